import { sql, type Kysely } from "kysely";
import type { Dialect } from "../dialect.js";

/**
 * The email and the work on it become two things. `messages` is the email, in or out (the former
 * interactions table, renamed: every id and row stays); `interactions` is a piece of work on a message
 * (queue, agent, state, version), one per message as before, or one per matched route with Route to
 * Multiple Destinations; `interaction_history` records what happened to each. Attachments, source keys
 * and thread references point at messages. The Message-ID header is `internet_message_id` (Graph's name
 * for it), so that `message_id` can name the message a row belongs to.
 *
 * Every existing message gets its interaction under the same id, so the ids clients hold keep working.
 * SQLite cannot drop a column that a foreign key constraint names: there `messages` keeps the old
 * `queue_id` and `agent_id` columns, emptied and no longer read or written; PostgreSQL drops them.
 */
export async function up(untyped: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // the migration reads and writes tables the typed schema of this release no longer has
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = untyped as Kysely<any>;

  // foreign keys of attachments and source_keys follow the renamed table in both databases
  await sql`alter table interactions rename to messages`.execute(db);
  // PostgreSQL's index names are per schema, and the new table's primary key takes this one (SQLite
  // renames its automatic index with the table)
  if (dialect === "postgres") await sql`alter index interactions_pkey rename to messages_pkey`.execute(db);
  await sql`alter table messages rename column message_id to internet_message_id`.execute(db);
  await db.schema
    .alterTable("messages")
    .addColumn("direction", "text", (c) => c.notNull().defaultTo("in").check(sql`direction in ('in','out')`))
    .execute();
  await sql`alter table attachments rename column interaction_id to message_id`.execute(db);
  await sql`alter table source_keys rename column interaction_id to message_id`.execute(db);
  await sql`alter table thread_refs rename column message_id to internet_message_id`.execute(db);
  await sql`alter table thread_refs rename column interaction_id to message_id`.execute(db);

  await db.schema
    .createTable("interactions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("message_id", "text", (c) => c.notNull().references("messages.id"))
    // copies of the message's, so that the lists an agent pages through are read from one index
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id"))
    .addColumn("thread_id", "text", (c) => c.notNull())
    .addColumn("queue_id", "text", (c) => c.references("queues.id"))
    .addColumn("agent_id", "text", (c) => c.references("users.id"))
    .addColumn("state", "text", (c) => c.notNull().check(sql`state in ('queued','assigned','done')`))
    // every change of queue, agent or state increments it: two agents accepting at once, one wins
    .addColumn("version", "integer", (c) => c.notNull().defaultTo(1))
    // the route that made it ("" for the application's queue): a message makes one interaction per route
    .addColumn("route_key", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addUniqueConstraint("interactions_message_route", ["message_id", "route_key"])
    .execute();
  await db.schema.createIndex("interactions_by_mailbox").on("interactions").columns(["mailbox_id", "id"]).execute();
  await db.schema.createIndex("interactions_by_queue").on("interactions").columns(["queue_id", "state", "id"]).execute();
  await db.schema.createIndex("interactions_by_agent").on("interactions").columns(["agent_id", "state", "id"]).execute();
  await db.schema.createIndex("interactions_by_thread").on("interactions").columns(["thread_id", "id"]).execute();
  await db.schema.createIndex("interactions_by_state").on("interactions").columns(["state", "id"]).execute();

  await db.schema
    .createTable("interaction_history")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("interaction_id", "text", (c) => c.notNull().references("interactions.id"))
    .addColumn("at", "text", (c) => c.notNull())
    // null: Mailroom itself (routing, auto-acknowledgement)
    .addColumn("actor_id", "text", (c) => c.references("users.id"))
    .addColumn("action", "text", (c) => c.notNull())
    // JSON: what the action was about (rule, queue, agent, why)
    .addColumn("detail", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("interaction_history_by_interaction").on("interaction_history").columns(["interaction_id", "id"]).execute();

  await sql`
    insert into interactions (id, message_id, mailbox_id, thread_id, queue_id, agent_id, state, version, route_key, created_at, updated_at)
    select id, id, mailbox_id, thread_id, queue_id, agent_id, state, 1, '', created_at, created_at from messages`.execute(db);
  await sql`
    insert into interaction_history (id, interaction_id, at, actor_id, action, detail)
    select id, id, created_at, null, 'routed', '{"rule":null,"why":"stored before routing rules existed: the queue of the application"}' from messages`.execute(db);

  await db.schema.dropIndex("interactions_queue").execute();
  await db.schema.dropIndex("interactions_state").execute();
  await db.schema.alterTable("messages").dropColumn("state").execute();
  if (dialect === "postgres") {
    await db.schema.alterTable("messages").dropColumn("queue_id").execute();
    await db.schema.alterTable("messages").dropColumn("agent_id").execute();
  } else {
    await sql`update messages set queue_id = null, agent_id = null`.execute(db);
  }
}
