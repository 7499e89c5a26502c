import { sql, type Kysely } from "kysely";

/**
 * The outbox: every email Mailroom sends is a row here, written in the transaction of the action that
 * sends it (an agent's reply, an auto-acknowledgement with the interaction it answers). A sender claims
 * due rows and delivers them; a claim that expires (a node died mid-send) is claimed again, so a crash
 * between the server's 250 and the commit of "sent" sends the message at most once more.
 */
export async function up(untyped: Kysely<unknown>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = untyped as Kysely<any>;
  await db.schema
    .createTable("outbox")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('reply','replyAll','forward','new','autoAck')`))
    // the outbound message (null for an auto-acknowledgement until it is composed, at its first send)
    .addColumn("message_id", "text", (c) => c.references("messages.id"))
    .addColumn("interaction_id", "text", (c) => c.references("interactions.id"))
    .addColumn("state", "text", (c) => c.notNull().check(sql`state in ('queued','sending','sent','failed')`))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "text", (c) => c.notNull())
    .addColumn("claimed_until", "text")
    .addColumn("claim_token", "text")
    // JSON {from, to[]}; null until composed
    .addColumn("envelope", "text")
    // JSON: what an auto-acknowledgement is composed from
    .addColumn("compose", "text")
    // lower case: the customer an auto-acknowledgement goes to (at most 3 per address in 10 minutes)
    .addColumn("recipient", "text")
    .addColumn("last_error", "text")
    .addColumn("last_response", "text")
    .addColumn("created_by", "text", (c) => c.references("users.id"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addColumn("sent_at", "text")
    .execute();
  await sql`create index outbox_due on outbox (next_attempt_at, id) where state in ('queued','sending')`.execute(db);
  await sql`create index outbox_auto_ack on outbox (recipient, created_at) where kind = 'autoAck'`.execute(db);
}
