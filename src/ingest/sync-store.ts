import type { SourceMessage } from "../connectors/mail-source.js";

/**
 * The store side of one maildrop's sync (see runners/mailbox-sync.ts): what is recorded of its keys,
 * and the transactions that store messages. Bound to one mailbox and one maildrop. The database
 * implementation is IngestService.forMaildrop; tests of the sync loop use an in-memory one.
 */

export interface KeyRecord {
  key: string;
  state: "stored" | "skipped" | "failing";
  ack: "pending" | "done" | "refused";
  /** the size the server reported when the key was recorded */
  size: number;
  /** only the message's header block was stored (it was over Max size then) */
  truncated: boolean;
  /** fetches that broke the connection (state "failing") */
  attempts: number;
  reason: string | null;
  /** the content fingerprint of the stored message, to tell a key the server reused from the same message */
  contentHash: string | null;
}

/** A message the server would not hand over, set aside: never acknowledged, never fetched again. */
export interface SetAside {
  key: string;
  size: number;
  reason: string;
}

/** The parse of a batch, started ahead of its commit; opaque to the sync. */
export interface Prepared {
  readonly keys: readonly string[];
  /** settles when the parse is done (never rejects): the sync waits for it before it takes its turn at the database */
  readonly settled: Promise<void>;
}

export interface BatchCommit {
  messages: SourceMessage[];
  skipped: SetAside[];
  /** stored with the batch in the same transaction; null leaves the stored cursor as it is */
  cursor: string | null;
  epoch: string;
  /** a re-read after the maildrop renumbered: messages may be stored already under older keys */
  reread: boolean;
  /** from prepare(), for (a superset of) these messages */
  prepared: Prepared | null;
}

export interface CommitOutcome {
  /** interactions created */
  created: string[];
  /** messages that were already stored under another key (a redelivery, or the same bytes in a re-read) */
  duplicates: number;
  /** keys that were stored already: a re-fetch after a crash */
  alreadyStored: number;
}

/**
 * A commit failed because of the data of some message in it (a value the database refuses), not because
 * the database is unreachable: storing the batch in smaller parts finds the message.
 */
export class UnstorableBatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnstorableBatchError";
  }
}

export interface SyncStore {
  loadCursor(): Promise<string | null>;
  /** the live records of these keys */
  lookup(keys: string[]): Promise<Map<string, KeyRecord>>;
  /** stored keys whose acknowledgement is pending; with `includeRefused`, also those the server refused */
  unacknowledged(includeRefused: boolean): Promise<KeyRecord[]>;
  /** every live key of the maildrop (for servers that may reuse keys: to notice messages that left) */
  liveKeys(): Promise<KeyRecord[]>;
  /** starts parsing (`urgent`: ahead of backlogs); commit() takes the result */
  prepare(messages: SourceMessage[], urgent: boolean): Prepared;
  /** One transaction: messages, set-aside keys and the cursor. Throws UnstorableBatchError for bad data. */
  commit(batch: BatchCommit): Promise<CommitOutcome>;
  /** Stores a message that could not be stored as it is as a wrapped interaction keeping the original. */
  commitUnstorable(message: SourceMessage, reason: string, batch: BatchCommit): Promise<CommitOutcome>;
  /** the server confirmed the acknowledgement; `retire` when that removed the message (its key may come back) */
  markAcknowledged(keys: string[], retire: boolean): Promise<void>;
  /** the server refused to acknowledge these; they are tried again when the mailbox's runner restarts */
  markRefused(keys: string[]): Promise<void>;
  /** these keys' messages are gone from the server: the keys may be given to new messages */
  retire(keys: string[]): Promise<void>;
  /** a fetch of these keys broke the connection: count an attempt, so the next sync tries them alone */
  recordAttempt(keys: { key: string; size: number }[], reason: string): Promise<void>;
  saveCursor(cursor: string): Promise<void>;
}
