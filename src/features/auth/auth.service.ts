import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Principal } from "../../http/route-config.js";
import type { Clock } from "../../shared/clock.js";
import type { SessionEnds } from "../../shared/session-ends.js";
import type { Actor } from "../audit/audit.service.js";
import type { UsersService } from "../users/users.service.js";
import type { UserView } from "../users/users.schema.js";
import { toUserView } from "../users/users.service.js";

export interface FromAddress {
  address: string;
  displayName: string;
}

/** Supplies the From addresses an agent may use; read once at sign-in (see the reference). */
export type FromAddressSource = () => Promise<FromAddress[]>;

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

export function actorOf(req: FastifyRequest): Actor {
  const p = req.principal;
  if (!p) throw new AppError("unauthenticated", "Sign in first.");
  return { userId: p.userId, username: p.username };
}

export class AuthService {
  fromAddressSource: FromAddressSource = () => Promise.resolve([]);

  constructor(
    private readonly db: Kysely<Database>,
    private readonly users: UsersService,
    private readonly clock: Clock,
    private readonly sessionHours: number,
    /** hears of every session ended here, so that what a session holds open closes with it */
    private readonly sessionEnds: SessionEnds,
  ) {}

  async login(username: string, password: string): Promise<{ token: string; user: UserView; expiresAt: Date }> {
    const user = await this.users.verifyPassword(username, password);
    if (!user) throw new AppError("unauthenticated", "Wrong username or password.");
    const token = randomBytes(32).toString("base64url");
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.sessionHours * 3600_000);
    const fromAddresses = await this.fromAddressSource();
    await this.db.transaction().execute(async (trx) => {
      // a user disabled, or given a new password, since the password was checked gets no session
      if (!(await this.users.store.recordLogin(trx, user.id, user.password_hash, now.toISOString()))) {
        throw new AppError("unauthenticated", "Wrong username or password.");
      }
      await trx
        .insertInto("sessions")
        .values({
          token_hash: hashToken(token),
          user_id: user.id,
          created_at: now.toISOString(),
          expires_at: expiresAt.toISOString(),
          from_addresses: JSON.stringify(fromAddresses),
        })
        .execute();
    });
    return { token, user: toUserView({ ...user, last_login_at: now.toISOString() }), expiresAt };
  }

  async logout(sessionHash: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("token_hash", "=", sessionHash).execute();
    this.sessionEnds.publish({ sessionHash });
  }

  async principalFor(token: string): Promise<Principal | null> {
    return this.principalForSession(hashToken(token));
  }

  /** The principal of a live session of an enabled user, by the session's token hash; null otherwise. */
  async principalForSession(sessionHash: string): Promise<Principal | null> {
    const row = await this.db
      .selectFrom("sessions")
      .innerJoin("users", "users.id", "sessions.user_id")
      .select(["users.id", "users.username", "users.role", "sessions.expires_at"])
      .where("sessions.token_hash", "=", sessionHash)
      .where("users.disabled", "=", 0)
      .executeTakeFirst();
    if (!row || row.expires_at <= this.clock.now().toISOString()) return null;
    return { userId: row.id, username: row.username, role: row.role, sessionHash };
  }

  async sessionFromAddresses(sessionHash: string): Promise<FromAddress[]> {
    const row = await this.db.selectFrom("sessions").select("from_addresses").where("token_hash", "=", sessionHash).executeTakeFirst();
    return row ? (JSON.parse(row.from_addresses) as FromAddress[]) : [];
  }
}
