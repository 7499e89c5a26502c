import type { Insertable } from "kysely";
import type { SourceMessage } from "../connectors/mail-source.js";
import type { AttachmentsTable, InteractionHistoryTable, InteractionsTable, MessagesTable, OutboxTable, ThreadRefsTable } from "../db/schema.js";
import type { AutoAckTemplate } from "./auto-ack.js";
import { newId } from "../shared/ids.js";
import type { RouteDecision } from "./routing.js";
import type { InboundTarget, ParsedMail } from "./types.js";

/** A referenced Message-ID Mailroom knows: the thread it is in, and the message that first brought it. */
export interface KnownRef {
  threadId: string;
  messageId: string;
}

/**
 * The rows of one transaction, gathered message by message and written table by table: a batch of 50
 * messages is a handful of statements, not a few hundred (each statement is prepared anew, and that
 * was a third of the server's time on a backlog of small messages).
 */
export class BatchRows {
  /** the bytes to store as blobs, with the ids the rows point at */
  readonly blobs: { id: string; data: Buffer }[] = [];
  readonly messages: Insertable<MessagesTable>[] = [];
  readonly interactions: Insertable<InteractionsTable>[] = [];
  readonly history: Insertable<InteractionHistoryTable>[] = [];
  readonly attachments: Insertable<AttachmentsTable>[] = [];
  readonly threadRefs: Insertable<ThreadRefsTable>[] = [];
  /** auto-acknowledgements, composed by the sender at their first attempt */
  readonly outbox: Insertable<OutboxTable>[] = [];
  /** Message-IDs stored in this batch so far, for replies within the batch */
  private readonly refsInBatch = new Map<string, KnownRef>();

  constructor(
    private readonly target: InboundTarget,
    private readonly now: string,
    /** the referenced Message-IDs the database knows (bounded as thread_refs keeps them) */
    private readonly knownRefs: Map<string, KnownRef>,
    private readonly threadKey: (messageId: string) => string,
    /** where the message goes, given the thread it joins (its own id when it starts one) */
    private readonly route: (mail: ParsedMail, threadId: string) => RouteDecision[],
  ) {}

  /**
   * Adds the message and its interactions, as routing decides; answers the ids. The first interaction
   * takes the message's id: one email is normally one interaction, under the id a client sees in the thread.
   */
  add(source: SourceMessage, mail: ParsedMail): { messageId: string; interactionIds: string[] } {
    const id = newId();
    const threadId = this.threadOf([...mail.inReplyTo, ...mail.references.slice().reverse()]) ?? id;
    const rawBlob = this.blob(source.raw);
    for (const [position, a] of mail.attachments.entries()) {
      this.attachments.push({
        id: newId(),
        message_id: id,
        position,
        filename: a.filename,
        content_type: a.contentType,
        size: a.size,
        inline: a.inline ? 1 : 0,
        content_id: a.contentId,
        blob_id: this.blob(a.content),
      });
    }
    this.messages.push({
      id,
      mailbox_id: this.target.mailboxId,
      direction: "in",
      internet_message_id: mail.messageId,
      subject: mail.subject,
      from_address: mail.from.address,
      from_name: mail.from.name,
      to_json: JSON.stringify(mail.to),
      cc_json: JSON.stringify(mail.cc),
      reply_to_json: JSON.stringify(mail.replyTo),
      received_at: (source.receivedAt ?? mail.date ?? new Date(this.now)).toISOString(),
      thread_id: threadId,
      size_bytes: source.size,
      flag_auto_reply: mail.flags.autoReply ? 1 : 0,
      flag_bounce: mail.flags.bounce ? 1 : 0,
      flag_loop: mail.flags.loop ? 1 : 0,
      wrapped: mail.flags.wrapped,
      // the unique index stops a redelivery from being stored twice even by two nodes at once
      dedup_key: mail.messageId ? `m:${mail.contentHash}` : `u:${id}`,
      content_hash: mail.contentHash,
      raw_blob_id: rawBlob,
      node_id: this.target.nodeId ?? null,
      text: mail.text,
      html: mail.html,
      created_at: this.now,
    });
    const interactionIds = this.route(mail, threadId).map((decision, i) => {
      const interactionId = i === 0 ? id : newId();
      this.interactions.push({
        id: interactionId,
        message_id: id,
        mailbox_id: this.target.mailboxId,
        thread_id: threadId,
        queue_id: decision.queueId,
        agent_id: decision.agentId,
        state: decision.agentId === null ? "queued" : "assigned",
        version: 1,
        route_key: decision.routeKey,
        created_at: this.now,
        updated_at: this.now,
      });
      this.history.push({ id: newId(), interaction_id: interactionId, at: this.now, actor_id: null, action: "routed", detail: JSON.stringify(decision.detail) });
      return interactionId;
    });
    if (mail.messageId) {
      const key = this.threadKey(mail.messageId);
      this.threadRefs.push({ internet_message_id: key, thread_id: threadId, message_id: id });
      if (!this.refsInBatch.has(key)) this.refsInBatch.set(key, { threadId, messageId: id });
    }
    return { messageId: id, interactionIds };
  }

  /** An automatic acknowledgement of the message to `address`, answering the interaction. */
  acknowledge(interactionId: string, mail: ParsedMail, template: AutoAckTemplate, address: string): void {
    const id = newId();
    const compose = { subject: template.subject, text: template.text, fromAddress: template.fromAddress, customerName: mail.from.name, customerAddress: address, referenceNumber: interactionId };
    this.outbox.push({
      id, kind: "autoAck", message_id: null, interaction_id: interactionId, state: "queued", attempts: 0, next_attempt_at: this.now, claimed_until: null,
      claim_token: null, envelope: null, compose: JSON.stringify(compose), recipient: address, last_error: null, last_response: null, created_by: null,
      created_at: this.now, updated_at: this.now, sent_at: null,
    });
    this.history.push({ id: newId(), interaction_id: interactionId, at: this.now, actor_id: null, action: "auto_acknowledged", detail: JSON.stringify({ outboundId: id, to: address }) });
  }

  private blob(data: Buffer): string {
    const id = newId();
    this.blobs.push({ id, data });
    return id;
  }

  /** The thread of the earliest-stored message among the references, as threadOf did one message at a time. */
  private threadOf(messageIds: string[]): string | undefined {
    let best: KnownRef | undefined;
    for (const messageId of messageIds.slice(0, 100)) {
      const key = this.threadKey(messageId);
      for (const known of [this.knownRefs.get(key), this.refsInBatch.get(key)]) {
        if (known && (!best || known.messageId < best.messageId)) best = known;
      }
    }
    return best?.threadId;
  }
}
