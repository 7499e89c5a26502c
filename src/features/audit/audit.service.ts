import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import { AuditStore, type AuditEntry } from "./audit.store.js";

/** Who did something: a signed-in user, or Mailroom itself (bootstrap, CLI). */
export interface Actor {
  userId: string | null;
  username: string;
}

export const systemActor: Actor = { userId: null, username: "system" };

// names that end in a secret word (password, clientSecret, accessToken); not e.g. secretExpiresAt, a date
const secretKey = /(password|secret|token)$/i;

/** Replaces every secret value with a marker that says only whether it was set or changed. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, secretKey.test(k) ? (v === undefined || v === null ? v : "[secret]") : maskSecrets(v)]),
    );
  }
  return value;
}

export class AuditService {
  readonly store: AuditStore;

  constructor(db: Kysely<Database>, private readonly clock: Clock) {
    this.store = new AuditStore(db);
  }

  /** Records inside the caller's transaction, so a change and its audit line commit together. */
  async record(
    trx: Kysely<Database>,
    actor: Actor,
    action: string,
    target: { type: string; id: string | null },
    changes: Record<string, unknown>,
  ): Promise<void> {
    await this.store.insert(trx, {
      id: newId(),
      at: this.clock.now().toISOString(),
      actor_id: actor.userId,
      actor_name: actor.username,
      action,
      target_type: target.type,
      target_id: target.id,
      changes: JSON.stringify(maskSecrets(changes)),
    });
  }

  list(limit: number, cursor: string | undefined): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    return this.store.list(limit, cursor);
  }
}
