import type { Kysely } from "kysely";
import type { BlobStore } from "../blobs/blob-store.js";
import type { SourceMessage } from "../connectors/mail-source.js";
import { isDataError } from "../db/constraint-errors.js";
import type { Database } from "../db/schema.js";
import type { Clock } from "../shared/clock.js";
import { newId } from "../shared/ids.js";
import { cleanLine } from "./clean-text.js";
import { messageFingerprint } from "./fingerprint.js";
import { headerValue, readHeaderBlock } from "./header-block.js";
import { IngestStore, type MaildropRef } from "./ingest.store.js";
import { messageIdOf } from "./message-ids.js";
import { UnstorableBatchError, type BatchCommit, type CommitOutcome, type Prepared, type SyncStore } from "./sync-store.js";
import type { IngestContext, ParsedMail } from "./types.js";
import { originalAttachment, wrappedMail } from "./wrapped.js";

/** Parses a message; in-process or in worker processes (see parser-pool). Never throws for bad mail. */
export type MailParser = (input: { raw: Buffer; size: number; truncated: boolean }, ctx: IngestContext, options?: { urgent?: boolean }) => Promise<ParsedMail>;

export interface InboundTarget {
  mailboxId: string;
  /** the queue of the application that enabled the mailbox */
  queueId: string | null;
}

interface PreparedParse extends Prepared {
  parsed: Promise<Map<string, ParsedMail>>;
}

/**
 * The end of the ingest pipeline: parse every message of a batch, then store messages, raw MIME,
 * attachments, threading, the keys and the connector's cursor in ONE transaction. Only after it commits
 * may the connector acknowledge the batch at the server (invariant 1).
 *
 * Two server messages become one interaction only when they are the same message: the same key; or the
 * same Message-ID and the same bytes apart from trace headers (a redelivery); or, in a re-read after
 * the maildrop renumbered its messages, the same bytes (so mail without Message-ID is not doubled by
 * the re-read). Anything else is a new interaction, identical bytes included.
 */
export class IngestService {
  readonly store: IngestStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    private readonly parse: MailParser,
    private readonly clock: Clock,
  ) {
    this.store = new IngestStore(db);
  }

  /** The store side of a sync of this mailbox's maildrop. */
  forMaildrop(target: InboundTarget, maildrop: string, ctx: IngestContext): SyncStore {
    return new MaildropIngest(this, target, { mailboxId: target.mailboxId, maildrop }, ctx);
  }

  /** @internal the parse of a batch, for MaildropIngest */
  parseAll(messages: SourceMessage[], ctx: IngestContext, urgent: boolean): Promise<Map<string, ParsedMail>> {
    return Promise.all(messages.map((m) => this.parse({ raw: m.raw, size: m.size, truncated: m.truncated }, ctx, { urgent }))).then(
      (parsed) => new Map(messages.map((m, i) => [m.sourceKey, parsed[i]!])),
    );
  }

  /** @internal */
  now(): string {
    return this.clock.now().toISOString();
  }

  /** @internal one transaction: the batch's messages and set-aside keys, and the cursor */
  async commit(target: InboundTarget, ref: MaildropRef, batch: BatchCommit, parsed: Map<string, ParsedMail>, wrapAs?: string): Promise<CommitOutcome> {
    const outcome: CommitOutcome = { created: [], duplicates: 0, alreadyStored: 0 };
    const now = this.clock.now().toISOString();
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const message of batch.messages) {
          const state = await this.store.liveState(trx, ref, message.sourceKey);
          if (state === "stored" || state === "skipped") {
            outcome.alreadyStored++;
            continue;
          }
          const mail = wrapAs === undefined ? parsed.get(message.sourceKey) : unstorableMail(message, wrapAs);
          if (!mail) throw new Error(`the message under key ${message.sourceKey} was not parsed`);
          let interactionId = batch.reread ? await this.store.rereadMatch(trx, ref, batch.epoch, mail.contentHash) : undefined;
          if (!interactionId && mail.messageId) interactionId = await this.store.redeliveryOf(trx, target.mailboxId, mail.messageId, mail.contentHash);
          if (interactionId) {
            outcome.duplicates++;
          } else {
            interactionId = await this.storeInteraction(trx, target, message, mail, now);
            outcome.created.push(interactionId);
          }
          await this.store.recordKey(trx, ref, {
            key: message.sourceKey,
            epoch: batch.epoch,
            size: message.size,
            truncated: message.truncated,
            at: now,
            replacesFailing: state === "failing",
            state: "stored",
            interactionId,
          });
        }
        for (const s of batch.skipped) {
          const state = await this.store.liveState(trx, ref, s.key);
          if (state === "stored" || state === "skipped") continue;
          await this.store.recordKey(trx, ref, {
            key: s.key,
            epoch: batch.epoch,
            size: s.size,
            truncated: false,
            at: now,
            replacesFailing: state === "failing",
            state: "skipped",
            reason: s.reason,
          });
        }
        if (batch.cursor !== null) await this.store.saveCursor(trx, ref, batch.cursor, now);
      });
    } catch (err) {
      // a value the database refuses, or a bug in turning this mail into rows: storing parts of the batch finds the message
      if (isDataError(err) || err instanceof TypeError || err instanceof RangeError) {
        throw new UnstorableBatchError(describeDatabaseError(err), { cause: err });
      }
      throw err;
    }
    return outcome;
  }

  /** @internal */
  async saveCursor(ref: MaildropRef, cursor: string): Promise<void> {
    const now = this.clock.now().toISOString();
    await this.db.transaction().execute((trx) => this.store.saveCursor(trx, ref, cursor, now));
  }

  /**
   * Interactions stored before fingerprints existed get theirs, so deduplication and the repair of
   * reused POP3 keys work on them too. Runs at start before any runner; returns how many it filled in.
   */
  async backfillContentHashes(onProgress?: (done: number) => void): Promise<number> {
    let done = 0;
    for (;;) {
      const rows = await this.store.withoutContentHash(200);
      if (rows.length === 0) return done;
      for (const row of rows) {
        const raw = (await this.blobs.get(row.rawBlobId)) ?? Buffer.alloc(0);
        // an oversize message was kept as its header block, fetched alone when it was larger than that
        const truncated = row.wrapped === "oversize" && raw.length < row.sizeBytes;
        await this.store.setContentHash(row.id, messageFingerprint({ raw, size: row.sizeBytes, truncated }));
      }
      done += rows.length;
      onProgress?.(done);
    }
  }

  private async storeInteraction(trx: Kysely<Database>, target: InboundTarget, source: SourceMessage, mail: ParsedMail, now: string): Promise<string> {
    const id = newId();
    const threadId = (await this.store.threadOf(trx, [...mail.inReplyTo, ...mail.references.slice().reverse()])) ?? id;
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
    await this.store.insertInteraction(
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
        // the unique index stops a redelivery from being stored twice even by two nodes at once
        dedup_key: mail.messageId ? `m:${mail.contentHash}` : `u:${id}`,
        content_hash: mail.contentHash,
        raw_blob_id: rawBlobId,
        text: mail.text,
        html: mail.html,
        created_at: now,
      },
      attachments,
    );
    if (mail.messageId) await this.store.addThreadRef(trx, mail.messageId, threadId, id);
    return id;
  }
}

/** The SyncStore of one mailbox's maildrop, on the database. */
class MaildropIngest implements SyncStore {
  constructor(
    private readonly ingest: IngestService,
    private readonly target: InboundTarget,
    private readonly ref: MaildropRef,
    private readonly ctx: IngestContext,
  ) {}

  private get store(): IngestStore {
    return this.ingest.store;
  }

  private now(): string {
    return this.ingest.now();
  }

  loadCursor() {
    return this.store.loadCursor(this.ref);
  }

  lookup(keys: string[]) {
    return this.store.lookup(this.ref, keys);
  }

  unacknowledged(includeRefused: boolean) {
    return this.store.unacknowledged(this.ref, includeRefused);
  }

  liveKeys() {
    return this.store.liveKeys(this.ref);
  }

  prepare(messages: SourceMessage[], urgent: boolean): PreparedParse {
    const parsed = this.ingest.parseAll(messages, this.ctx, urgent);
    // a sync that fails before this batch's commit never awaits it
    parsed.catch(() => undefined);
    return { keys: messages.map((m) => m.sourceKey), parsed };
  }

  async commit(batch: BatchCommit): Promise<CommitOutcome> {
    const prepared = batch.prepared as PreparedParse | null;
    const parsed = new Map(prepared ? await prepared.parsed : []);
    const missing = batch.messages.filter((m) => !parsed.has(m.sourceKey));
    if (missing.length) for (const [key, mail] of await this.ingest.parseAll(missing, this.ctx, false)) parsed.set(key, mail);
    return this.ingest.commit(this.target, this.ref, batch, parsed);
  }

  commitUnstorable(message: SourceMessage, reason: string, batch: BatchCommit): Promise<CommitOutcome> {
    return this.ingest.commit(this.target, this.ref, { ...batch, messages: [message], prepared: null }, new Map(), reason);
  }

  markAcknowledged(keys: string[], retire: boolean) {
    return this.store.markAcknowledged(this.ref, keys, retire, this.now());
  }

  markRefused(keys: string[]) {
    return this.store.markRefused(this.ref, keys, this.now());
  }

  retire(keys: string[]) {
    return this.store.retire(this.ref, keys, this.now());
  }

  recordAttempt(keys: { key: string; size: number }[], reason: string) {
    return this.store.recordAttempt(this.ref, keys, reason, this.now());
  }

  saveCursor(cursor: string) {
    return this.ingest.saveCursor(this.ref, cursor);
  }
}

/**
 * What is kept of a message the database refused as it was parsed: nothing of the parse (one of its
 * values was the problem), only what is safe to store — a short subject, the reason, and the original.
 */
function unstorableMail(message: SourceMessage, reason: string): ParsedMail {
  let subject = "";
  let messageId: string | null = null;
  try {
    const header = readHeaderBlock(message.raw);
    subject = cleanLine(headerValue(header, "subject") ?? "", 200);
    messageId = messageIdOf(header.fields.filter((f) => f.name === "message-id").map((f) => f.value));
  } catch {
    // the original is attached whole; the subject stays empty
  }
  return wrappedMail({
    reason: "unstorable",
    subject,
    // kept (when short) so that a redelivery is still recognised
    messageId: messageId && messageId.length <= 200 ? messageId : null,
    text:
      `Mailroom could not store this message as it was read (${reason}). ` +
      `The original (${message.raw.length} bytes) is attached as original.eml.`,
    attachments: message.raw.length > 0 ? [originalAttachment(message.raw, "original.eml")] : [],
    contentHash: messageFingerprint(message),
  });
}

function describeDatabaseError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return cleanLine(`the database refused it: ${text}`, 300);
}
