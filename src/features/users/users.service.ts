import { hash, verify } from "@node-rs/argon2";
import type { Kysely, Updateable } from "kysely";
import type { Dialect } from "../../db/dialect.js";
import type { Database, UsersTable } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { SessionEnds } from "../../shared/session-ends.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { PatchUserInput, Role, UserView } from "./users.schema.js";
import { UsersStore, type UserRow } from "./users.store.js";

// A hash of a random password, verified against when the username is unknown, so that
// a wrong username costs as long as a wrong password and does not reveal which it was.
const decoyHash = hash(`decoy-${Math.random()}`);

export function toUserView(u: UserRow): UserView {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    displayName: u.display_name,
    disabled: Boolean(u.disabled),
    available: Boolean(u.available),
    capacity: Number(u.capacity),
    createdAt: u.created_at,
    lastLoginAt: u.last_login_at,
  };
}

/** An empty display name is no display name. */
function displayNameOf(value: string | null | undefined): string | null {
  return value ? value : null;
}

export class UsersService {
  readonly store: UsersStore;
  /** hears of a user who became available, to offer them work at once */
  onAvailable?: (userId: string) => void;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly dialect: Dialect,
    /** hears of every session ended here, so that what a session holds open closes with it */
    private readonly sessionEnds: SessionEnds,
  ) {
    this.store = new UsersStore(db);
  }

  async create(actor: Actor, input: { username: string; password: string; role: Role; displayName?: string | undefined }): Promise<UserView> {
    if (await this.store.byUsername(input.username)) {
      throw new AppError("name_taken", `A user named "${input.username}" already exists.`, [
        { path: "username", message: `A user named "${input.username}" already exists; choose another username.` },
      ]);
    }
    const now = this.clock.now().toISOString();
    const row: UserRow = {
      id: newId(),
      username: input.username,
      password_hash: await hash(input.password),
      role: input.role,
      display_name: displayNameOf(input.displayName),
      disabled: 0,
      last_login_at: null,
      available: 0,
      capacity: 5,
      created_at: now,
      updated_at: now,
    };
    await this.db.transaction().execute(async (trx) => {
      await this.store.insert(trx, row);
      await this.audit.record(trx, actor, "user.create", { type: "user", id: row.id }, {
        username: row.username,
        role: row.role,
        displayName: row.display_name,
        password: input.password,
      });
    });
    return toUserView(row);
  }

  /**
   * The user if the password matches and the user is enabled; undefined otherwise, in the same time
   * either way (a disabled user is told no more than a wrong password).
   */
  async verifyPassword(username: string, password: string): Promise<UserRow | undefined> {
    const user = await this.store.byUsername(username);
    const ok = await verify(user?.password_hash ?? (await decoyHash), password);
    return user && ok && !user.disabled ? user : undefined;
  }

  /**
   * Changes role, display name and whether the user is disabled. Disabling ends all the user's sessions
   * in the same transaction. The last enabled admin can be neither disabled nor demoted: the enabled
   * admins are locked first, so two admins demoting each other at once leave one admin.
   */
  async update(actor: Actor, id: string, patch: PatchUserInput): Promise<UserView> {
    let updated: UserRow | undefined;
    let endedSessions = false;
    await this.db.transaction().execute(async (trx) => {
      const touchesAdmins = patch.role !== undefined || patch.disabled !== undefined;
      const enabledAdmins = touchesAdmins ? await this.store.lockEnabledAdmins(trx, this.dialect) : [];
      const current = await this.store.byIdIn(trx, id);
      if (!current) throw AppError.notFound("The user");

      const columns: Updateable<UsersTable> = {};
      const changes: Record<string, unknown> = {};
      if (patch.role !== undefined && patch.role !== current.role) changes["role"] = columns.role = patch.role;
      if (patch.displayName !== undefined && displayNameOf(patch.displayName) !== current.display_name) {
        changes["displayName"] = columns.display_name = displayNameOf(patch.displayName);
      }
      if (patch.disabled !== undefined && patch.disabled !== Boolean(current.disabled)) {
        columns.disabled = patch.disabled ? 1 : 0;
        changes["disabled"] = patch.disabled;
      }
      if (patch.capacity !== undefined && patch.capacity !== Number(current.capacity)) changes["capacity"] = columns.capacity = patch.capacity;
      if (Object.keys(changes).length === 0) {
        updated = current;
        return;
      }

      const wasEnabledAdmin = current.role === "admin" && !current.disabled;
      const staysEnabledAdmin = (columns.role ?? current.role) === "admin" && !(columns.disabled ?? current.disabled);
      if (wasEnabledAdmin && !staysEnabledAdmin && !enabledAdmins.some((adminId) => adminId !== id)) {
        const what = columns.disabled ? "disabled" : "given another role";
        throw new AppError(
          "last_admin",
          `"${current.username}" is the last enabled admin and cannot be ${what}: make another user an admin first.`,
        );
      }

      const now = this.clock.now().toISOString();
      await this.store.update(trx, id, { ...columns, updated_at: now });
      if (columns.disabled) {
        changes["sessionsEnded"] = await this.store.deleteSessions(trx, id);
        endedSessions = true;
      }
      await this.audit.record(trx, actor, "user.update", { type: "user", id }, { username: current.username, ...changes });
      updated = await this.store.byIdIn(trx, id);
    });
    if (endedSessions) this.sessionEnds.publish({ userId: id });
    return toUserView(updated!);
  }

  /** An admin sets a user's password; every session of that user ends. */
  async resetPassword(actor: Actor, id: string, password: string): Promise<void> {
    // hashed before the transaction: it takes a while, and nothing waits for it
    const passwordHash = await hash(password);
    await this.db.transaction().execute(async (trx) => {
      const current = await this.store.byIdIn(trx, id);
      if (!current) throw AppError.notFound("The user");
      await this.store.update(trx, id, { password_hash: passwordHash, updated_at: this.clock.now().toISOString() });
      const sessionsEnded = await this.store.deleteSessions(trx, id);
      await this.audit.record(trx, actor, "user.password_reset", { type: "user", id }, { username: current.username, password, sessionsEnded });
    });
    this.sessionEnds.publish({ userId: id });
  }

  /**
   * A signed-in user changes their own password, proving they know the current one. Their other
   * sessions end; `sessionHash`, the one they did it in, stays.
   */
  async changeOwnPassword(actor: Actor & { userId: string }, sessionHash: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.store.byId(actor.userId);
    if (!user || user.disabled) throw new AppError("unauthenticated", "Sign in first.");
    if (!(await verify(user.password_hash, currentPassword))) {
      throw AppError.invalid("currentPassword", "The current password is not right");
    }
    const passwordHash = await hash(newPassword);
    await this.db.transaction().execute(async (trx) => {
      const now = this.clock.now().toISOString();
      if (!(await this.store.replacePasswordHash(trx, user.id, user.password_hash, { password_hash: passwordHash, updated_at: now }))) {
        throw new AppError("conflict", "The password was changed meanwhile; sign in again with the new one.");
      }
      const sessionsEnded = await this.store.deleteSessions(trx, user.id, sessionHash);
      await this.audit.record(trx, actor, "user.password_change", { type: "user", id: user.id }, {
        username: user.username,
        password: newPassword,
        sessionsEnded,
      });
    });
    this.sessionEnds.publish({ userId: user.id, exceptSessionHash: sessionHash });
  }

  async list(): Promise<UserView[]> {
    return (await this.store.list()).map(toUserView);
  }

  /** Whether the user takes work now; answers the user's availability and capacity. */
  async availability(userId: string): Promise<{ available: boolean; capacity: number }> {
    const row = await this.store.byId(userId);
    if (!row) throw AppError.notFound("The user");
    return { available: Boolean(row.available), capacity: Number(row.capacity) };
  }

  async setAvailability(userId: string, available: boolean): Promise<{ available: boolean; capacity: number }> {
    const now = this.clock.now().toISOString();
    await this.store.update(this.db, userId, { available: available ? 1 : 0, updated_at: now });
    const row = await this.store.byId(userId);
    if (!row) throw AppError.notFound("The user");
    if (available) this.onAvailable?.(userId);
    return { available: Boolean(row.available), capacity: Number(row.capacity) };
  }

  /** Of these ids, those of users who exist and are enabled. */
  enabledIds(ids: string[], db: Kysely<Database> = this.db): Promise<Set<string>> {
    return this.store.enabledIds(db, ids);
  }
}
