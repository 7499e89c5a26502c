import { sql, type Kysely, type Selectable, type Updateable } from "kysely";
import type { Dialect } from "../../db/dialect.js";
import type { Database, UsersTable } from "../../db/schema.js";

export type UserRow = Selectable<UsersTable>;

export class UsersStore {
  constructor(private readonly db: Kysely<Database>) {}

  byUsername(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom("users").selectAll().where("username", "=", username).executeTakeFirst();
  }

  byId(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  }

  list(): Promise<UserRow[]> {
    return this.db.selectFrom("users").selectAll().orderBy("username").execute();
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom("users").select((e) => e.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async insert(trx: Kysely<Database>, row: UserRow): Promise<void> {
    await trx.insertInto("users").values(row).execute();
  }

  /** Of these ids, those of enabled users, as `db` (a transaction, or the pool) sees them. */
  async enabledIds(db: Kysely<Database>, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db.selectFrom("users").select("id").where("id", "in", ids).where("disabled", "=", 0).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** The user as `trx` (a transaction) sees it. */
  byIdIn(trx: Kysely<Database>, id: string): Promise<UserRow | undefined> {
    return trx.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /**
   * The ids of the enabled admins, locked until `trx` ends, so that two transactions that each remove
   * one admin cannot both see the other one still there. PostgreSQL locks the rows (in id order, so
   * that two such transactions never wait for each other); a SQLite transaction is alone on the
   * database once it writes, so it writes first (a no-op) and waits for any other writer here.
   */
  async lockEnabledAdmins(trx: Kysely<Database>, dialect: Dialect): Promise<string[]> {
    if (dialect === "sqlite") await sql`update users set id = id where 0`.execute(trx);
    let query = trx.selectFrom("users").select("id").where("role", "=", "admin").where("disabled", "=", 0).orderBy("id");
    if (dialect === "postgres") query = query.forUpdate();
    return (await query.execute()).map((r) => r.id);
  }

  async update(trx: Kysely<Database>, id: string, changes: Updateable<UsersTable>): Promise<void> {
    await trx.updateTable("users").set(changes).where("id", "=", id).execute();
  }

  /**
   * Sets the password hash if it is still `expectedHash` (nobody changed it since it was checked);
   * false when it was changed.
   */
  async replacePasswordHash(trx: Kysely<Database>, id: string, expectedHash: string, next: { password_hash: string; updated_at: string }): Promise<boolean> {
    const r = await trx.updateTable("users").set(next).where("id", "=", id).where("password_hash", "=", expectedHash).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /**
   * Records a sign-in of an enabled user whose password hash is still `passwordHash`; false when the
   * user was disabled or got a new password since the password was checked. On PostgreSQL the update
   * waits for a transaction that is changing the user, and then sees what it did.
   */
  async recordLogin(trx: Kysely<Database>, id: string, passwordHash: string, at: string): Promise<boolean> {
    const r = await trx
      .updateTable("users")
      .set({ last_login_at: at })
      .where("id", "=", id)
      .where("password_hash", "=", passwordHash)
      .where("disabled", "=", 0)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Ends the user's sessions (all, or all but one); returns how many ended. */
  async deleteSessions(trx: Kysely<Database>, userId: string, exceptSessionHash?: string): Promise<number> {
    let query = trx.deleteFrom("sessions").where("user_id", "=", userId);
    if (exceptSessionHash !== undefined) query = query.where("token_hash", "<>", exceptSessionHash);
    const r = await query.executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
