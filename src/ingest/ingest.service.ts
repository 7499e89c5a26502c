import type { Compilable, Kysely } from "kysely";
import type { BlobStore } from "../blobs/blob-store.js";
import type { SourceMessage } from "../connectors/mail-source.js";
import { isDataError } from "../db/constraint-errors.js";
import { unfenced } from "../db/fence.js";
import { executeReadings, executeStatements } from "../db/statement-batch.js";
import type { Database } from "../db/schema.js";
import type { Clock } from "../shared/clock.js";
import { cleanLine } from "./clean-text.js";
import { messageFingerprint } from "./fingerprint.js";
import { headerValue, readHeaderBlock } from "./header-block.js";
import { BatchRows } from "./batch-rows.js";
import { IngestStore, threadKey, type MaildropRef, type NewKey } from "./ingest.store.js";
import { messageIdOf } from "./message-ids.js";
import { acknowledgedAddress, autoAckLimit } from "./auto-ack.js";
import { compileRules, decideRoutes, recipientsOf, type RoutingRules } from "./routing.js";
import { UnstorableBatchError, type BatchCommit, type CommitOutcome, type Prepared, type SyncStore } from "./sync-store.js";
import type { InboundTarget, IngestContext, ParsedMail } from "./types.js";
import { originalAttachment, wrappedMail } from "./wrapped.js";

/** Parses a message; in-process or in worker processes (see parser-pool). Never throws for bad mail. */
export type MailParser = (input: { raw: Buffer; size: number; truncated: boolean }, ctx: IngestContext, options?: { urgent?: boolean }) => Promise<ParsedMail>;

export type { InboundTarget };

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
  /** the routing rules as last read, with their version: read again when the version in the database differs */
  #rules: RoutingRules | null = null;
  /** hears of committed outbox rows (auto-acknowledgements), to send them at once */
  onOutboxRows?: () => void;
  /** statements that announce new interactions, run inside the transaction that stores them (a change feed through the database) */
  commitNotices?: (mailboxId: string, interactionIds: string[]) => Compilable[];

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
    const now = this.now();
    let outboxRows = 0;
    try {
      await this.db.transaction().execute(async (trx) => {
        const mails = batch.messages.map((message) => {
          const mail = wrapAs === undefined ? parsed.get(message.sourceKey) : unstorableMail(message, wrapAs);
          if (!mail) throw new Error(`the message under key ${message.sourceKey} was not parsed`);
          return { message, mail };
        });
        // what is stored already, what the messages may be the same message as, and the threads their
        // references are in
        // the lease first: a node that lost the mailbox writes nothing, and so acknowledges nothing
        const [, states, sameFingerprint, knownRefs, version, ackTemplate] = await executeReadings(trx, [
          (target.fence ?? unfenced).check(),
          this.store.liveStates(trx, ref, [...batch.messages.map((m) => m.sourceKey), ...batch.skipped.map((s) => s.key)]),
          this.store.byFingerprints(trx, target.mailboxId, mails.filter((f) => f.mail.messageId).map((f) => f.mail.contentHash)),
          this.store.knownRefs(trx, mails.flatMap(({ mail }) => [...mail.inReplyTo, ...mail.references.slice(-100)])),
          this.store.routingVersion(trx),
          this.store.autoAckTemplate(trx, target.mailboxId),
        ]);
        const taken = (key: string) => states.get(key) === "stored" || states.get(key) === "skipped";
        const fresh = mails.filter(({ message }) => !taken(message.sourceKey));
        // only new messages can be acknowledged: the senders of those are the ones counted
        const ackTo = new Map(fresh.map(({ message, mail }) => [message.sourceKey, ackTemplate ? acknowledgedAddress(mail) : null]));
        const since = new Date(Date.parse(now) - autoAckLimit.windowMs).toISOString();
        const ackAddresses = [...ackTo.values()].filter((a): a is string => a !== null);
        // the threads replied to that an agent holds, and the rules when the copy here is not current
        const stale = this.#rules?.version !== version;
        const [held, read, acksSent] = await executeReadings(trx, [
          this.store.heldThreads(trx, [...knownRefs.values()].map((known) => known.threadId)),
          stale ? this.store.routingRules(trx) : { statements: [], result: () => null },
          this.store.recentAutoAcks(trx, ackAddresses, since),
        ]);
        const rules = read ? compileRules(version, read.multipleDestinations, read.routes) : this.#rules!;
        this.#rules = rules;
        outcome.alreadyStored += mails.length - fresh.length;
        const sameMessage = new Map<string, string>();
        for (const row of sameFingerprint) {
          const key = redeliveryKey(row.messageId, row.contentHash);
          if (row.messageId && !sameMessage.has(key)) sameMessage.set(key, row.id);
        }
        const rows = new BatchRows(target, now, knownRefs, threadKey, (mail, threadId) =>
          decideRoutes(rules, recipientsOf(mail), target.queueId, held.get(threadId) ?? null),
        );
        const claimed = new Set<string>();
        const keys: NewKey[] = [];

        for (const { message, mail } of fresh) {
          let messageId = batch.reread ? await this.store.rereadMatch(trx, ref, batch.epoch, mail.contentHash, claimed) : undefined;
          if (messageId) claimed.add(messageId);
          const redelivery = mail.messageId ? redeliveryKey(mail.messageId, mail.contentHash) : null;
          messageId ??= redelivery === null ? undefined : sameMessage.get(redelivery);
          if (messageId) {
            outcome.duplicates++;
          } else {
            const added = rows.add(message, mail);
            messageId = added.messageId;
            const ackAddress = ackTo.get(message.sourceKey);
            if (ackTemplate && ackAddress && (acksSent.get(ackAddress) ?? 0) < autoAckLimit.perSender) {
              rows.acknowledge(added.interactionIds[0]!, mail, ackTemplate, ackAddress);
              acksSent.set(ackAddress, (acksSent.get(ackAddress) ?? 0) + 1);
            }
            if (redelivery !== null) sameMessage.set(redelivery, messageId);
            outcome.created.push(...added.interactionIds);
          }
          keys.push({ key: message.sourceKey, epoch: batch.epoch, size: message.size, truncated: message.truncated, at: now, state: "stored", messageId });
        }
        for (const s of batch.skipped) {
          if (!taken(s.key)) keys.push({ key: s.key, epoch: batch.epoch, size: s.size, truncated: false, at: now, state: "skipped", reason: s.reason });
        }

        // every write as one request, blobs before the rows that point at them
        outboxRows = rows.outbox.length;
        const failing = keys.map((k) => k.key).filter((key) => states.get(key) === "failing");
        await executeStatements(trx, [
          ...this.blobs.inserts(trx, rows.blobs),
          ...this.store.insertMessages(trx, rows),
          ...this.store.recordKeys(trx, ref, keys, failing),
          ...(batch.cursor !== null ? [this.store.saveCursor(trx, ref, batch.cursor, now)] : []),
          // to every node's event stream when this commits (PostgreSQL); after the commit otherwise
          ...(outcome.created.length && this.commitNotices ? this.commitNotices(target.mailboxId, outcome.created) : []),
        ], { last: true });
      });
    } catch (err) {
      // a value the database refuses, or a bug in turning this mail into rows: storing parts of the batch finds the message
      if (isDataError(err) || err instanceof TypeError || err instanceof RangeError) {
        throw new UnstorableBatchError(describeDatabaseError(err), { cause: err });
      }
      throw err;
    }
    if (outboxRows > 0) this.onOutboxRows?.();
    return outcome;
  }

  /** @internal */
  async saveCursor(ref: MaildropRef, cursor: string): Promise<void> {
    const now = this.now();
    await this.db.executeQuery(this.store.saveCursor(this.db, ref, cursor, now));
  }

  /**
   * Messages stored before fingerprints existed get theirs, so deduplication and the repair of
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
    const settled = parsed.then(
      () => undefined,
      () => undefined,
    );
    return { keys: messages.map((m) => m.sourceKey), parsed, settled };
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

/** The same message, redelivered: the same Message-ID and the same bytes apart from trace headers. */
function redeliveryKey(messageId: string | null, contentHash: string): string {
  return `${contentHash}\u0000${messageId ?? ""}`;
}

function describeDatabaseError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return cleanLine(`the database refused it: ${text}`, 300);
}
