import type { Kysely, Selectable } from "kysely";
import type { AttachmentsTable, Database, InteractionState, InteractionsTable, MessagesTable } from "../../db/schema.js";

export type AttachmentRow = Selectable<AttachmentsTable>;

/** The email fields a view of a message shows. */
const messageColumns = [
  "m.internet_message_id",
  "m.direction",
  "m.subject",
  "m.from_address",
  "m.from_name",
  "m.to_json",
  "m.cc_json",
  "m.reply_to_json",
  "m.received_at",
  "m.size_bytes",
  "m.flag_auto_reply",
  "m.flag_bounce",
  "m.flag_loop",
  "m.wrapped",
] as const;

export type MessageFields = Pick<Selectable<MessagesTable>, (typeof messageColumns)[number] extends `m.${infer C}` ? C : never>;

/** An interaction with the email it is about. */
export interface InteractionRow
  extends MessageFields,
    Pick<Selectable<InteractionsTable>, "id" | "message_id" | "mailbox_id" | "thread_id" | "queue_id" | "agent_id" | "state" | "version"> {}

export interface ThreadMessageRow extends MessageFields {
  id: string;
  mailbox_id: string;
  thread_id: string;
}

export interface InteractionFilter {
  mailboxId?: string | undefined;
  queueId?: string | undefined;
  state?: InteractionState | undefined;
  agentId?: string | undefined;
  threadId?: string | undefined;
  /** only what this agent sees: interactions of the agent's queues and those the agent holds */
  viewerId?: string | undefined;
}

/** SQL that reads interactions, their messages and attachments (ingestion writes them, in ingest.store.ts). */
export class InteractionsStore {
  constructor(private readonly db: Kysely<Database>) {}

  private interactions() {
    return this.db
      .selectFrom("interactions as i")
      .innerJoin("messages as m", "m.id", "i.message_id")
      .select(["i.id", "i.message_id", "i.mailbox_id", "i.thread_id", "i.queue_id", "i.agent_id", "i.state", "i.version", ...messageColumns]);
  }

  /** Newest first, keyset-paginated by id (ids sort by creation time). */
  async list(filter: InteractionFilter, limit: number, cursor: string | undefined): Promise<InteractionRow[]> {
    let q = this.interactions().orderBy("i.id", "desc").limit(limit);
    if (filter.mailboxId) q = q.where("i.mailbox_id", "=", filter.mailboxId);
    if (filter.queueId) q = q.where("i.queue_id", "=", filter.queueId);
    if (filter.state) q = q.where("i.state", "=", filter.state);
    if (filter.agentId) q = q.where("i.agent_id", "=", filter.agentId);
    if (filter.threadId) q = q.where("i.thread_id", "=", filter.threadId);
    const viewer = filter.viewerId;
    if (viewer) {
      q = q.where((eb) =>
        eb.or([eb("i.agent_id", "=", viewer), eb("i.queue_id", "in", eb.selectFrom("queue_agents").select("queue_id").where("user_id", "=", viewer))]),
      );
    }
    if (cursor) q = q.where("i.id", "<", cursor);
    return q.execute();
  }

  async worksQueue(userId: string, queueId: string | null): Promise<boolean> {
    if (queueId === null) return false;
    return (await this.db.selectFrom("queue_agents").select("user_id").where("user_id", "=", userId).where("queue_id", "=", queueId).executeTakeFirst()) !== undefined;
  }

  byId(id: string): Promise<InteractionRow | undefined> {
    return this.interactions().where("i.id", "=", id).executeTakeFirst();
  }

  /** The message an interaction is about: its bodies and the blob of its raw bytes. */
  body(messageId: string): Promise<{ text: string; html: string | null; raw_blob_id: string } | undefined> {
    return this.db.selectFrom("messages").select(["text", "html", "raw_blob_id"]).where("id", "=", messageId).executeTakeFirst();
  }

  /** The messages of a thread, in and out, oldest first, with the interactions each one made. */
  async thread(threadId: string): Promise<{ messages: ThreadMessageRow[]; interactions: { id: string; message_id: string }[] }> {
    const messages = await this.db
      .selectFrom("messages as m")
      .select(["m.id", "m.mailbox_id", "m.thread_id", ...messageColumns])
      .where("m.thread_id", "=", threadId)
      .orderBy("m.id", "asc")
      .limit(500)
      .execute();
    const interactions = await this.db
      .selectFrom("interactions")
      .select(["id", "message_id"])
      .where("thread_id", "=", threadId)
      .orderBy("id", "asc")
      .limit(2_000)
      .execute();
    return { messages, interactions };
  }

  attachmentsOf(messageIds: string[]): Promise<AttachmentRow[]> {
    if (messageIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom("attachments").selectAll().where("message_id", "in", messageIds).orderBy("message_id").orderBy("position").execute();
  }

  /** An attachment of any message in the interaction's thread: what the agent sees of the conversation. */
  attachment(interactionId: string, attachmentId: string): Promise<AttachmentRow | undefined> {
    return this.db
      .selectFrom("attachments as a")
      .innerJoin("messages as m", "m.id", "a.message_id")
      .innerJoin("interactions as i", "i.thread_id", "m.thread_id")
      .selectAll("a")
      .where("i.id", "=", interactionId)
      .where("a.id", "=", attachmentId)
      .executeTakeFirst();
  }

  async count(mailboxId?: string): Promise<number> {
    let q = this.db.selectFrom("interactions").select((e) => e.fn.countAll<number>().as("n"));
    if (mailboxId) q = q.where("mailbox_id", "=", mailboxId);
    const r = await q.executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
