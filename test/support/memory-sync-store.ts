import { createHash } from "node:crypto";
import type { MailSource, SourceMessage } from "../../src/connectors/mail-source.js";
import { messageFingerprint } from "../../src/ingest/fingerprint.js";
import { UnstorableBatchError, type BatchCommit, type CommitOutcome, type KeyRecord, type Prepared, type SyncStore } from "../../src/ingest/sync-store.js";
import { MailboxSync, defaultSyncLimits, type SyncHooks, type SyncLimits, type SyncReport, type SyncResume, type WarningCode } from "../../src/runners/mailbox-sync.js";

export interface CommitRecord {
  batch: BatchCommit;
}

export interface HeldCommit {
  /** resolves once a commit has started and is being held */
  reached: Promise<CommitRecord>;
  /** lets the held commit finish (it stores its batch then) */
  release(): void;
  /** makes the held commit fail instead; nothing of it is stored */
  fail(err?: Error): void;
}

interface Row extends KeyRecord {
  message: SourceMessage | null;
  retired: boolean;
}

/**
 * The store side of a sync, in memory, behaving like the database one: a commit stores its batch, its
 * set-aside keys and its cursor together (a key already live is a no-op); stored keys stay pending until
 * acknowledged; retired keys may come back. Tests can hold or fail commits, and make messages unstorable.
 */
export class MemorySyncStore implements SyncStore {
  readonly commits: CommitRecord[] = [];
  /** every row ever written, retired ones included */
  readonly rows: Row[] = [];
  cursor: string | null = null;
  /** every batch handed to prepare(), with how many commits had completed at that moment */
  readonly prepared: { keys: string[]; commitsBefore: number; urgent: boolean }[] = [];
  /** the database refuses a commit holding a message whose bytes contain this text */
  poison: string | null = null;
  readonly wrapped: { key: string; reason: string }[] = [];
  private failNext: Error | null = null;
  private hold: { reached: (r: CommitRecord) => void; gate: Promise<Error | null> } | null = null;

  /** the next commit throws this error and stores nothing */
  failNextCommit(err: Error = new Error("commit failed (test)")): void {
    this.failNext = err;
  }

  /** the next commit waits until the test releases (or fails) it */
  holdNextCommit(): HeldCommit {
    let reached!: (r: CommitRecord) => void;
    let open!: (err: Error | null) => void;
    const reachedPromise = new Promise<CommitRecord>((r) => (reached = r));
    const gate = new Promise<Error | null>((r) => (open = r));
    this.hold = { reached, gate };
    return { reached: reachedPromise, release: () => open(null), fail: (err = new Error("commit failed (test)")) => open(err) };
  }

  private live(key: string): Row | undefined {
    return this.rows.find((r) => r.key === key && !r.retired);
  }

  /** every message stored (also under keys retired since, as POP3 deletes do), by key */
  get stored(): Map<string, SourceMessage> {
    return new Map(this.rows.filter((r) => r.state === "stored" && r.message).map((r) => [r.key, r.message!]));
  }

  /** live keys whose acknowledgement is pending */
  get unacked(): Set<string> {
    return new Set(this.rows.filter((r) => !r.retired && r.state === "stored" && r.ack === "pending").map((r) => r.key));
  }

  get skipped(): Row[] {
    return this.rows.filter((r) => !r.retired && r.state === "skipped");
  }

  /** every message handed to a successful commit, in order */
  committedMessages(): SourceMessage[] {
    return this.commits.flatMap((c) => c.batch.messages);
  }

  committedTexts(): string[] {
    return this.committedMessages().map((m) => m.raw.toString("latin1"));
  }

  async loadCursor(): Promise<string | null> {
    return this.cursor;
  }

  async lookup(keys: string[]): Promise<Map<string, KeyRecord>> {
    const out = new Map<string, KeyRecord>();
    for (const key of keys) {
      const row = this.live(key);
      if (row) out.set(key, { ...row });
    }
    return out;
  }

  async unacknowledged(includeRefused: boolean): Promise<KeyRecord[]> {
    return this.rows.filter((r) => !r.retired && r.state === "stored" && (r.ack === "pending" || (includeRefused && r.ack === "refused")));
  }

  async liveKeys(): Promise<KeyRecord[]> {
    return this.rows.filter((r) => !r.retired);
  }

  prepare(messages: SourceMessage[], urgent: boolean): Prepared {
    this.prepared.push({ keys: messages.map((m) => m.sourceKey), commitsBefore: this.commits.length, urgent });
    return { keys: messages.map((m) => m.sourceKey), settled: Promise.resolve() };
  }

  async commit(batch: BatchCommit): Promise<CommitOutcome> {
    const record = { batch };
    if (this.hold) {
      const { reached, gate } = this.hold;
      this.hold = null;
      reached(record);
      const err = await gate;
      if (err) throw err;
    }
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    const poison = this.poison;
    if (poison && batch.messages.some((m) => m.raw.includes(poison))) throw new UnstorableBatchError("the database refused it (test poison)");
    return this.apply(batch, null);
  }

  async commitUnstorable(message: SourceMessage, reason: string, batch: BatchCommit): Promise<CommitOutcome> {
    this.wrapped.push({ key: message.sourceKey, reason });
    return this.apply({ ...batch, messages: [message] }, reason);
  }

  private apply(batch: BatchCommit, wrappedReason: string | null): CommitOutcome {
    const outcome: CommitOutcome = { created: [], duplicates: 0, alreadyStored: 0 };
    for (const message of batch.messages) {
      const existing = this.live(message.sourceKey);
      if (existing && existing.state !== "failing") {
        outcome.alreadyStored++;
        continue;
      }
      if (existing) existing.retired = true;
      outcome.created.push(`i-${this.rows.length}`);
      this.rows.push({
        key: message.sourceKey, state: "stored", ack: "pending", size: message.size, truncated: message.truncated, attempts: 0, reason: wrappedReason,
        contentHash: messageFingerprint(message), message, retired: false,
      });
    }
    for (const s of batch.skipped) {
      const existing = this.live(s.key);
      if (existing && existing.state !== "failing") continue;
      if (existing) existing.retired = true;
      this.rows.push({ key: s.key, state: "skipped", ack: "pending", size: s.size, truncated: false, attempts: 0, reason: s.reason, contentHash: null, message: null, retired: false });
    }
    if (batch.cursor !== null) this.cursor = batch.cursor;
    this.commits.push({ batch });
    return outcome;
  }

  async markAcknowledged(keys: string[], retire: boolean): Promise<void> {
    for (const key of keys) {
      const row = this.live(key);
      if (!row || row.state !== "stored") continue;
      row.ack = "done";
      if (retire) row.retired = true;
    }
  }

  async markRefused(keys: string[]): Promise<void> {
    for (const key of keys) {
      const row = this.live(key);
      if (row && row.state === "stored") row.ack = "refused";
    }
  }

  async retire(keys: string[]): Promise<void> {
    for (const key of keys) {
      const row = this.live(key);
      if (row) row.retired = true;
    }
  }

  async recordAttempt(keys: { key: string; size: number }[], reason: string): Promise<void> {
    for (const { key, size } of keys) {
      const row = this.live(key);
      if (row?.state === "failing") {
        row.attempts++;
        row.reason = reason;
      } else if (!row) {
        this.rows.push({ key, state: "failing", ack: "pending", size, truncated: false, attempts: 1, reason, contentHash: null, message: null, retired: false });
      }
    }
  }

  async saveCursor(cursor: string): Promise<void> {
    this.cursor = cursor;
  }
}

export interface SyncRun {
  report: SyncReport;
  warnings: { code: WarningCode; message: string }[];
  /** where the next sync on the same connection may begin (MailboxSync.resume) */
  resume: SyncResume | null;
}

/**
 * One sync of `source` into `store` through the real sync loop, as a runner does it.
 * `firstOnConnection` defaults to true (the first sync on a connection also retries refused acknowledgements).
 */
export async function syncOnce(
  source: MailSource,
  store: SyncStore,
  opts: { limits?: Partial<SyncLimits>; firstOnConnection?: boolean; resume?: SyncResume | null; signal?: AbortSignal; hooks?: Partial<SyncHooks> } = {},
): Promise<SyncRun> {
  const warnings: SyncRun["warnings"] = [];
  const session = await source.open();
  const sync = new MailboxSync(
    session,
    store,
    { ...defaultSyncLimits, maxMessageBytes: 25 * 1024 * 1024, ...opts.limits },
    { signal: opts.signal ?? new AbortController().signal, warn: (code, message) => warnings.push({ code, message }), ...opts.hooks },
    { firstOnConnection: opts.firstOnConnection ?? true, resume: opts.resume ?? null },
  );
  return { report: await sync.run(), warnings, resume: sync.resume };
}

/** A short stable digest, for comparing bytes in assertions without printing megabytes. */
export function digest(raw: Buffer): string {
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}
