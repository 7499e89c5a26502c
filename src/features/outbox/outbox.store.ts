import { sql, type Compilable, type Insertable, type Kysely, type Selectable } from "kysely";
import type { AttachmentsTable, Database, InteractionsTable, MessagesTable, OutboxTable } from "../../db/schema.js";
import type { Dialect } from "../../db/dialect.js";
import { executeStatements } from "../../db/statement-batch.js";
import { newId } from "../../shared/ids.js";

export type OutboxRow = Selectable<OutboxTable>;

/** The message an agent answers or forwards, with its interaction. */
export type OriginalRow = {
  interaction_id: string;
  message_id: string;
} & Pick<Selectable<InteractionsTable>, "queue_id" | "agent_id" | "state" | "thread_id"> &
  Pick<
    Selectable<MessagesTable>,
    "internet_message_id" | "subject" | "from_address" | "from_name" | "to_json" | "cc_json" | "reply_to_json" | "received_at" | "text" | "html"
  >;

/** An outgoing email as rows: the message, its attachments, its thread reference, its outbox row. */
export interface Outgoing {
  blobs: { id: string; data: Buffer }[];
  message: Insertable<MessagesTable>;
  attachments: Insertable<AttachmentsTable>[];
  /** the Message-ID as thread_refs keeps it (bounded) */
  threadKey: string;
  outbox: Insertable<OutboxTable>;
  history: { interactionId: string; actorId: string | null; action: string; detail: Record<string, unknown> } | null;
}

/** A line of an interaction's history: what happened, who did it (null: Mailroom), with what. */
function historyLine(db: Kysely<Database>, interactionId: string, at: string, actorId: string | null, action: string, detail: Record<string, unknown>) {
  return db.insertInto("interaction_history").values({ id: newId(), interaction_id: interactionId, at, actor_id: actorId, action, detail: JSON.stringify(detail) });
}

const due = sql.lit<"queued">("queued");
const sending = sql.lit<"sending">("sending");

/** The SQL of the outbox: what is to be sent, claimed by a sender, and how each attempt went. */
export class OutboxStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  original(interactionId: string): Promise<OriginalRow | undefined> {
    return this.db
      .selectFrom("interactions as i")
      .innerJoin("messages as m", "m.id", "i.message_id")
      .select([
        "i.id as interaction_id", "i.queue_id", "i.agent_id", "i.state", "i.thread_id", "m.id as message_id", "m.internet_message_id", "m.subject",
        "m.from_address", "m.from_name", "m.to_json", "m.cc_json", "m.reply_to_json", "m.received_at", "m.text", "m.html",
      ])
      .where("i.id", "=", interactionId)
      .executeTakeFirst();
  }

  /** The Message-IDs of the thread's emails, oldest first: what a reply's References names. */
  async threadMessageIds(threadId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("messages")
      .select("internet_message_id")
      .where("thread_id", "=", threadId)
      .where("internet_message_id", "is not", null)
      .orderBy("id")
      .limit(200)
      .execute();
    return rows.map((r) => r.internet_message_id!);
  }

  attachmentsOf(messageId: string): Promise<{ filename: string; content_type: string; blob_id: string }[]> {
    return this.db.selectFrom("attachments").select(["filename", "content_type", "blob_id"]).where("message_id", "=", messageId).orderBy("position").execute();
  }

  /** The statements that write an outgoing email, for the caller's transaction. */
  writes(trx: Kysely<Database>, outgoing: Outgoing, blobInserts: Compilable[], at: string): Compilable[] {
    const statements: Compilable[] = [...blobInserts, trx.insertInto("messages").values(outgoing.message)];
    if (outgoing.attachments.length) statements.push(trx.insertInto("attachments").values(outgoing.attachments));
    statements.push(
      trx.insertInto("thread_refs").values({ internet_message_id: outgoing.threadKey, thread_id: outgoing.message.thread_id, message_id: outgoing.message.id }),
      trx.insertInto("outbox").values(outgoing.outbox),
    );
    const h = outgoing.history;
    if (h) statements.push(historyLine(trx, h.interactionId, at, h.actorId, h.action, h.detail));
    return statements;
  }

  async write(trx: Kysely<Database>, statements: Compilable[]): Promise<void> {
    await executeStatements(trx, statements);
  }

  byId(id: string): Promise<OutboxRow | undefined> {
    return this.db.selectFrom("outbox").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async messageIdOf(messageId: string | null): Promise<string | null> {
    if (messageId === null) return null;
    const row = await this.db.selectFrom("messages").select("internet_message_id").where("id", "=", messageId).executeTakeFirst();
    return row?.internet_message_id ?? null;
  }

  /** The blob of each of these messages' raw bytes, by message id. */
  async rawBlobsOf(messageIds: string[]): Promise<Map<string, string>> {
    if (messageIds.length === 0) return new Map();
    const rows = await this.db.selectFrom("messages").select(["id", "raw_blob_id"]).where("id", "in", messageIds).execute();
    return new Map(rows.map((r) => [r.id, r.raw_blob_id]));
  }

  /**
   * Claims up to `limit` rows that are due, or whose claim ran out (a sender died mid-send), for
   * `token` until `until`. PostgreSQL skips rows another node is claiming; SQLite is one node.
   */
  async claim(now: string, until: string, token: string, limit: number): Promise<OutboxRow[]> {
    return this.db.transaction().execute(async (trx) => {
      let candidates = trx
        .selectFrom("outbox")
        .select("id")
        .where("state", "in", [due, sending])
        .where("next_attempt_at", "<=", now)
        .where((eb) => eb.or([eb("state", "=", due), eb("claimed_until", "<", now)]))
        .orderBy("next_attempt_at")
        .orderBy("id")
        .limit(limit);
      if (this.dialect === "postgres") candidates = candidates.forUpdate().skipLocked();
      const ids = (await candidates.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      return trx
        .updateTable("outbox")
        .set((eb) => ({ state: "sending", claimed_until: until, claim_token: token, attempts: eb("attempts", "+", 1), updated_at: now }))
        .where("id", "in", ids)
        .returningAll()
        .execute();
    });
  }

  /** Records how an attempt went, if the row is still this sender's claim; answers whether it was. */
  async finish(
    db: Kysely<Database>,
    row: { id: string; claim_token: string | null },
    change: Pick<OutboxTable, "state" | "last_error" | "last_response" | "next_attempt_at" | "sent_at" | "updated_at">,
  ): Promise<boolean> {
    const result = await db
      .updateTable("outbox")
      .set({ ...change, claimed_until: null, claim_token: null })
      .where("id", "=", row.id)
      .where("claim_token", "=", row.claim_token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async recordHistory(db: Kysely<Database>, interactionId: string, at: string, action: string, detail: Record<string, unknown>): Promise<void> {
    await historyLine(db, interactionId, at, null, action, detail).execute();
  }

  /** The earliest time a queued row becomes due, for the sender's next wake-up. */
  async nextDue(): Promise<string | null> {
    const row = await this.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.min<string>("next_attempt_at").as("at"))
      .where("state", "in", [due, sending])
      .executeTakeFirst();
    return row?.at ?? null;
  }
}
