import { sql, type Kysely } from "kysely";

/**
 * Routing: inbound routes (an address or a domain, a queue, a priority), the agents of each queue, and
 * settings (Route to Multiple Destinations; the version of the routing rules, changed with every edit, by
 * which ingestion knows that its copy of the rules is current without reading them all per batch).
 * Agents: whether a user takes work now (`available`) and how many interactions at most (`capacity`).
 */
export async function up(untyped: Kysely<unknown>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = untyped as Kysely<any>;
  await db.schema
    .createTable("routes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("pattern", "text", (c) => c.notNull())
    .addColumn("queue_id", "text", (c) => c.notNull().references("queues.id"))
    .addColumn("priority", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("routes_pattern_queue", ["pattern", "queue_id"])
    .execute();

  await db.schema
    .createTable("queue_agents")
    .addColumn("queue_id", "text", (c) => c.notNull().references("queues.id").onDelete("cascade"))
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("queue_agents_pk", ["queue_id", "user_id"])
    .execute();
  await db.schema.createIndex("queue_agents_by_user").on("queue_agents").columns(["user_id", "queue_id"]).execute();

  await db.schema
    .createTable("settings")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  const now = new Date().toISOString();
  await db
    .insertInto("settings")
    .values([
      { name: "routing", value: JSON.stringify({ routeToMultipleDestinations: false }), updated_at: now },
      { name: "routing.version", value: "0", updated_at: now },
    ])
    .execute();
  await db.schema.alterTable("users").addColumn("available", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("users").addColumn("capacity", "integer", (c) => c.notNull().defaultTo(5)).execute();

  // each reply that comes in looks for an interaction of its thread that an agent holds
  await sql`create index interactions_held on interactions (thread_id, id) where state = 'assigned'`.execute(db);
}
