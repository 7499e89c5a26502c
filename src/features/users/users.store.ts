import type { Kysely, Selectable } from "kysely";
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
}
