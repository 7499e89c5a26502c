import type { Kysely, Selectable } from "kysely";
import type { AttachmentsTable, Database, InteractionsTable } from "../../db/schema.js";

export type InteractionRow = Selectable<InteractionsTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;

export interface InteractionFilter {
  mailboxId?: string | undefined;
  queueId?: string | undefined;
  state?: InteractionRow["state"] | undefined;
  agentId?: string | undefined;
  threadId?: string | undefined;
}

/** SQL that reads interactions and their attachments (ingestion writes them, in ingest.store.ts). */
export class InteractionsStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Newest first, keyset-paginated by id (ids sort by creation time). */
  async list(filter: InteractionFilter, limit: number, cursor: string | undefined): Promise<InteractionRow[]> {
    let q = this.db.selectFrom("interactions").selectAll().orderBy("id", "desc").limit(limit);
    if (filter.mailboxId) q = q.where("mailbox_id", "=", filter.mailboxId);
    if (filter.queueId) q = q.where("queue_id", "=", filter.queueId);
    if (filter.state) q = q.where("state", "=", filter.state);
    if (filter.agentId) q = q.where("agent_id", "=", filter.agentId);
    if (filter.threadId) q = q.where("thread_id", "=", filter.threadId);
    if (cursor) q = q.where("id", "<", cursor);
    return q.execute();
  }

  byId(id: string): Promise<InteractionRow | undefined> {
    return this.db.selectFrom("interactions").selectAll().where("id", "=", id).executeTakeFirst();
  }

  thread(threadId: string): Promise<InteractionRow[]> {
    return this.db.selectFrom("interactions").selectAll().where("thread_id", "=", threadId).orderBy("id", "asc").limit(500).execute();
  }

  attachmentsOf(interactionIds: string[]): Promise<AttachmentRow[]> {
    if (interactionIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom("attachments")
      .selectAll()
      .where("interaction_id", "in", interactionIds)
      .orderBy("interaction_id")
      .orderBy("position")
      .execute();
  }

  attachment(interactionId: string, attachmentId: string): Promise<AttachmentRow | undefined> {
    return this.db
      .selectFrom("attachments")
      .selectAll()
      .where("interaction_id", "=", interactionId)
      .where("id", "=", attachmentId)
      .executeTakeFirst();
  }

  async count(mailboxId?: string): Promise<number> {
    let q = this.db.selectFrom("interactions").select((e) => e.fn.countAll<number>().as("n"));
    if (mailboxId) q = q.where("mailbox_id", "=", mailboxId);
    const r = await q.executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
