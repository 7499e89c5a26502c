import type { Kysely } from "kysely";
import type { BlobStore } from "../blobs/blob-store.js";
import type { FolderCursor, SourceMessage } from "../connectors/mail-source.js";
import type { Database } from "../db/schema.js";
import type { InteractionsStore } from "../features/interactions/interactions.store.js";
import type { Clock } from "../shared/clock.js";
import { newId } from "../shared/ids.js";
import type { SourceStateStore } from "./ingest.store.js";
import type { IngestContext, ParsedMail } from "./types.js";

/** Parses a message; in-process or on worker threads (see parser-pool). Never throws for bad mail. */
export type MailParser = (input: { raw: Buffer; size: number; truncated: boolean }, ctx: IngestContext) => Promise<ParsedMail>;

export interface InboundTarget {
  mailboxId: string;
  /** the queue of the application that enabled the mailbox */
  queueId: string | null;
}

export interface BatchResult {
  /** interactions created */
  created: string[];
  /** messages already stored under another source key (same Message-ID and content) */
  duplicates: number;
  /** source keys that were already stored: a re-fetch after a crash */
  alreadyStored: number;
}

/** What ingesting a batch needs before its transaction: the messages not stored yet, parsed (same order). */
export interface PreparedBatch {
  fresh: SourceMessage[];
  parsed: ParsedMail[];
}

/**
 * The end of the ingest pipeline: parse every message of a batch, then store messages, raw MIME,
 * attachments, threading and the folder cursor in ONE transaction. Only after it commits may the
 * connector acknowledge the batch at the server (invariant 1).
 */
export class IngestService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    private readonly interactions: InteractionsStore,
    private readonly sourceState: SourceStateStore,
    private readonly parse: MailParser,
    private readonly clock: Clock,
  ) {}

  /**
   * Parses the messages of a batch that are not stored yet. commitBatch does this itself unless it is
   * given the result, which lets a batch be parsed while the batch before it is in its transaction.
   */
  async prepare(target: InboundTarget, batch: SourceMessage[], ctx: IngestContext): Promise<PreparedBatch> {
    // skip the parse of what a previous run already stored (re-fetch after a crash between commit and ack)
    const known = await this.sourceState.knownKeys(target.mailboxId, batch.map((m) => m.sourceKey));
    const fresh = batch.filter((m) => !known.has(m.sourceKey));
    const parsed = await Promise.all(fresh.map((m) => this.parse({ raw: m.raw, size: m.size, truncated: m.truncated }, ctx)));
    return { fresh, parsed };
  }

  /**
   * `prepared` must come from prepare() of this same batch; keys stored since then are still caught in
   * the transaction, which checks every key again.
   */
  async commitBatch(
    target: InboundTarget,
    batch: SourceMessage[],
    ctx: IngestContext,
    cursor?: FolderCursor,
    prepared?: Promise<PreparedBatch>,
  ): Promise<BatchResult> {
    const { fresh, parsed } = await (prepared ?? this.prepare(target, batch, ctx));
    const result: BatchResult = { created: [], duplicates: 0, alreadyStored: batch.length - fresh.length };
    const now = this.clock.now().toISOString();

    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < fresh.length; i++) {
        const source = fresh[i]!;
        const mail = parsed[i]!;
        if (await this.sourceState.isStored(trx, target.mailboxId, source.sourceKey)) {
          result.alreadyStored++;
          continue;
        }
        const existing = await this.interactions.idByDedupKey(trx, target.mailboxId, mail.dedupKey);
        if (existing) {
          result.duplicates++;
          await this.sourceState.record(trx, target.mailboxId, source.sourceKey, existing, now);
          continue;
        }
        const id = await this.storeInteraction(trx, target, source, mail, now);
        await this.sourceState.record(trx, target.mailboxId, source.sourceKey, id, now);
        result.created.push(id);
      }
      if (cursor) await this.sourceState.saveCursor(trx, target.mailboxId, cursor, now);
    });
    return result;
  }

  private async storeInteraction(trx: Kysely<Database>, target: InboundTarget, source: SourceMessage, mail: ParsedMail, now: string): Promise<string> {
    const id = newId();
    const threadId = (await this.interactions.threadOf(trx, [...mail.inReplyTo, ...mail.references.slice().reverse()])) ?? id;
    const rawBlobId = await this.blobs.put(trx, source.raw);
    const attachments = [];
    for (const [position, a] of mail.attachments.entries()) {
      attachments.push({
        id: newId(),
        interaction_id: id,
        position,
        filename: a.filename,
        content_type: a.contentType,
        size: a.size,
        inline: a.inline ? 1 : 0,
        content_id: a.contentId,
        blob_id: await this.blobs.put(trx, a.content),
      });
    }
    await this.interactions.insert(
      trx,
      {
        id,
        mailbox_id: target.mailboxId,
        queue_id: target.queueId,
        agent_id: null,
        state: "queued",
        message_id: mail.messageId,
        subject: mail.subject,
        from_address: mail.from.address,
        from_name: mail.from.name,
        to_json: JSON.stringify(mail.to),
        cc_json: JSON.stringify(mail.cc),
        reply_to_json: JSON.stringify(mail.replyTo),
        received_at: (source.receivedAt ?? mail.date ?? new Date(now)).toISOString(),
        thread_id: threadId,
        size_bytes: source.size,
        flag_auto_reply: mail.flags.autoReply ? 1 : 0,
        flag_bounce: mail.flags.bounce ? 1 : 0,
        flag_loop: mail.flags.loop ? 1 : 0,
        wrapped: mail.flags.wrapped,
        dedup_key: mail.dedupKey,
        raw_blob_id: rawBlobId,
        text: mail.text,
        html: mail.html,
        created_at: now,
      },
      attachments,
    );
    if (mail.messageId) await this.interactions.addThreadRef(trx, mail.messageId, threadId, id);
    return id;
  }
}
