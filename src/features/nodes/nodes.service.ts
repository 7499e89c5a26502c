import { sql, type Kysely } from "kysely";
import type { Dialect } from "../../db/dialect.js";
import type { Database } from "../../db/schema.js";

export interface NodeView {
  id: string;
  name: string;
  startedAt: string;
  lastHeartbeatAt: string;
  /** the mailboxes this node runs (holds the lease of) */
  mailboxIds: string[];
}

/**
 * The nodes on this database and the mailboxes each one runs. On PostgreSQL: the nodes whose heartbeat
 * is younger than the lease time and their unexpired leases, on the database's clock. On SQLite the one
 * node runs every enabled mailbox that has a connector.
 */
export class NodesService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly leaseMs: number,
    /** SQLite: the mailboxes the one node runs */
    private readonly runnable: () => Promise<string[]>,
  ) {}

  async list(): Promise<NodeView[]> {
    if (this.dialect === "sqlite") {
      const rows = await this.db.selectFrom("nodes").selectAll().orderBy("name").execute();
      const mailboxIds = rows.length ? (await this.runnable()).sort() : [];
      return rows.map((r) => view(r, mailboxIds));
    }
    const now = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
    const rows = await this.db
      .selectFrom("nodes")
      .selectAll()
      .where("heartbeat_ms", ">", sql<number>`${now} - ${this.leaseMs}`)
      .orderBy("name")
      .execute();
    const leases = await this.db.selectFrom("mailbox_leases").select(["mailbox_id", "node_id"]).where("expires_ms", ">", now).orderBy("mailbox_id").execute();
    const byNode = new Map<string, string[]>();
    for (const l of leases) {
      const ids = byNode.get(l.node_id);
      if (ids) ids.push(l.mailbox_id);
      else byNode.set(l.node_id, [l.mailbox_id]);
    }
    return rows.map((r) => view(r, byNode.get(r.id) ?? []));
  }
}

function view(r: { id: string; name: string; started_ms: number; heartbeat_ms: number }, mailboxIds: string[]): NodeView {
  return {
    id: r.id,
    name: r.name,
    startedAt: new Date(Number(r.started_ms)).toISOString(),
    lastHeartbeatAt: new Date(Number(r.heartbeat_ms)).toISOString(),
    mailboxIds,
  };
}
