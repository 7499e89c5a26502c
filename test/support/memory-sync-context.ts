import type { FolderCursor, SourceMessage, SyncContext } from "../../src/connectors/mail-source.js";

export interface CommitRecord {
  batch: SourceMessage[];
  cursor: FolderCursor | undefined;
}

export interface HeldCommit {
  /** resolves once a commit has started and is being held */
  reached: Promise<CommitRecord>;
  /** lets the held commit finish (it stores its batch then) */
  release(): void;
  /** makes the held commit fail instead; nothing of it is stored */
  fail(err?: Error): void;
}

/**
 * The store side of a sync, in memory, behaving like the real one: a commit stores its batch and
 * cursor together (a key already stored is a no-op), stored keys stay "unacked" until markAcked.
 */
export class MemorySyncContext implements SyncContext {
  maxMessageBytes: number;
  signal: AbortSignal;
  readonly commits: CommitRecord[] = [];
  /** every stored message by source key */
  readonly stored = new Map<string, SourceMessage>();
  readonly unacked = new Set<string>();
  readonly cursors = new Map<string, FolderCursor>();
  readonly ackedCalls: string[][] = [];
  /** every batch handed to prepare(), with how many commits had completed at that moment */
  readonly prepared: { batch: SourceMessage[]; commitsBefore: number }[] = [];
  private failNext: Error | null = null;
  private hold: { reached: (r: CommitRecord) => void; gate: Promise<Error | null> } | null = null;

  constructor(opts: { maxMessageBytes?: number; signal?: AbortSignal } = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? 25 * 1024 * 1024;
    this.signal = opts.signal ?? new AbortController().signal;
  }

  /** the next commit throws this error and stores nothing */
  failNextCommit(err = new Error("commit failed (test)")): void {
    this.failNext = err;
  }

  /** the next commit waits until the test releases (or fails) it */
  holdNextCommit(): HeldCommit {
    let reached!: (r: CommitRecord) => void;
    let open!: (err: Error | null) => void;
    const reachedPromise = new Promise<CommitRecord>((r) => (reached = r));
    const gate = new Promise<Error | null>((r) => (open = r));
    this.hold = { reached, gate };
    return {
      reached: reachedPromise,
      release: () => open(null),
      fail: (err = new Error("commit failed (test)")) => open(err),
    };
  }

  async loadCursor(folder: string): Promise<FolderCursor | null> {
    return this.cursors.get(folder) ?? null;
  }

  async knownKeys(sourceKeys: string[]): Promise<Set<string>> {
    return new Set(sourceKeys.filter((k) => this.stored.has(k)));
  }

  async unackedKeys(): Promise<string[]> {
    return [...this.unacked];
  }

  prepare(batch: SourceMessage[]): void {
    this.prepared.push({ batch, commitsBefore: this.commits.length });
  }

  async commit(batch: SourceMessage[], cursor?: FolderCursor): Promise<void> {
    const record = { batch, cursor };
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
    this.commits.push(record);
    for (const msg of batch) {
      if (this.stored.has(msg.sourceKey)) continue;
      this.stored.set(msg.sourceKey, msg);
      this.unacked.add(msg.sourceKey);
    }
    if (cursor) this.cursors.set(cursor.folder, cursor);
  }

  async markAcked(sourceKeys: string[]): Promise<void> {
    this.ackedCalls.push([...sourceKeys]);
    for (const key of sourceKeys) this.unacked.delete(key);
  }

  /** every message handed to a successful commit, in order */
  committedMessages(): SourceMessage[] {
    return this.commits.flatMap((c) => c.batch);
  }

  /** the raw text of every committed message, in order */
  committedTexts(): string[] {
    return this.committedMessages().map((m) => m.raw.toString("latin1"));
  }
}
