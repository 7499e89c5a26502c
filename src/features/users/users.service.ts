import { hash, verify } from "@node-rs/argon2";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { Role, UserView } from "./users.schema.js";
import { UsersStore, type UserRow } from "./users.store.js";

// A hash of a random password, verified against when the username is unknown, so that
// a wrong username costs as long as a wrong password and does not reveal which it was.
const decoyHash = hash(`decoy-${Math.random()}`);

export function toUserView(u: UserRow): UserView {
  return { id: u.id, username: u.username, role: u.role, displayName: u.display_name, createdAt: u.created_at };
}

export class UsersService {
  readonly store: UsersStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {
    this.store = new UsersStore(db);
  }

  async create(actor: Actor, input: { username: string; password: string; role: Role; displayName?: string | undefined }): Promise<UserView> {
    if (await this.store.byUsername(input.username)) {
      throw new AppError("name_taken", `A user named "${input.username}" already exists.`, [
        { path: "username", message: "is taken" },
      ]);
    }
    const now = this.clock.now().toISOString();
    const row: UserRow = {
      id: newId(),
      username: input.username,
      password_hash: await hash(input.password),
      role: input.role,
      display_name: input.displayName ?? null,
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

  /** The user if the password matches; undefined otherwise, in the same time either way. */
  async verifyPassword(username: string, password: string): Promise<UserRow | undefined> {
    const user = await this.store.byUsername(username);
    const ok = await verify(user?.password_hash ?? (await decoyHash), password);
    return user && ok ? user : undefined;
  }

  async list(): Promise<UserView[]> {
    return (await this.store.list()).map(toUserView);
  }
}
