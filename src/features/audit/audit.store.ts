import type { Insertable, Kysely } from "kysely";
import type { AuditLogTable, Database } from "../../db/schema.js";

export interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string | null; username: string };
  action: string;
  target: { type: string; id: string | null };
  changes: unknown;
}

export class AuditStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(trx: Kysely<Database>, row: Insertable<AuditLogTable>): Promise<void> {
    await trx.insertInto("audit_log").values(row).execute();
  }

  /** Newest first; the cursor is the id of the last entry of the previous page (ids sort by time). */
  async list(limit: number, cursor: string | undefined): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    let q = this.db.selectFrom("audit_log").selectAll().orderBy("id", "desc").limit(limit + 1);
    if (cursor) q = q.where("id", "<", cursor);
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        id: r.id,
        at: r.at,
        actor: { id: r.actor_id, username: r.actor_name },
        action: r.action,
        target: { type: r.target_type, id: r.target_id },
        changes: JSON.parse(r.changes) as unknown,
      })),
      nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }
}
