import { sql, type Kysely } from "kysely";
import type { Dialect } from "../dialect.js";

/**
 * Several nodes on one PostgreSQL: the nodes with their heartbeats, one lease per mailbox that a node
 * runs (its token fences that node's writes), the sign-in rate limit shared by all nodes, and on each
 * stored message and mailbox status the node that wrote it. Times are milliseconds since the epoch;
 * those of nodes and leases on the database's clock, so nodes with skewed clocks still agree on who
 * holds what (a sign-in window is timed by the counting node's clock).
 */
export async function up(untyped: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = untyped as Kysely<any>;
  await db.schema
    .createTable("nodes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("started_ms", "bigint", (c) => c.notNull())
    .addColumn("heartbeat_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("mailbox_leases")
    .addColumn("mailbox_id", "text", (c) => c.primaryKey().references("mailboxes.id").onDelete("cascade"))
    .addColumn("node_id", "text", (c) => c.notNull())
    // from one sequence: a later holder always has a larger token
    .addColumn("token", "bigint", (c) => c.notNull())
    .addColumn("acquired_ms", "bigint", (c) => c.notNull())
    .addColumn("expires_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("mailbox_leases_node").on("mailbox_leases").columns(["node_id"]).execute();
  if (dialect === "postgres") await sql`create sequence mailbox_lease_tokens`.execute(db);
  await db.schema
    .createTable("rate_limit_hits")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("window_ends_ms", "bigint", (c) => c.notNull())
    .addColumn("hits", "integer", (c) => c.notNull())
    .execute();
  await db.schema.alterTable("messages").addColumn("node_id", "text").execute();
  await db.schema.alterTable("mailbox_status").addColumn("node_id", "text").execute();
}
