import { defaultBatchLimits } from "./sync-plan.js";

/** What a sync of one maildrop is given and what it answers (see mailbox-sync.ts). */

export interface SyncLimits {
  maxMessageBytes: number;
  maxCount: number;
  maxBytes: number;
  /** keys looked up and sized at once; bounds memory on a first sync of a large folder */
  window: number;
  /** fetches of one message before it is set aside */
  maxAttempts: number;
  /** batches fetched (and being parsed) ahead of the one being committed; 0 fetches each after the commit before it */
  prefetch: number;
}

export const defaultSyncLimits: Omit<SyncLimits, "maxMessageBytes"> = { ...defaultBatchLimits, window: 1000, maxAttempts: 3, prefetch: 2 };

export type WarningCode = "message_skipped" | "message_unstorable" | "ack_refused" | "key_reused" | "notifications_unavailable";

/** Urgent syncs (a few new messages) go before bulk ones (a backlog) wherever they share something. */
export type Lane = "urgent" | "bulk";

export interface SyncScheduler {
  /** runs a transaction of the sync; urgent ones are served before waiting bulk ones */
  transaction<T>(lane: Lane, fn: () => Promise<T>): Promise<T>;
  /** A bulk sync holds a turn for each stint of batches it stores, so that backlogs take turns; the answer releases it. */
  bulkTurn(): Promise<() => void>;
  /** another backlog waits for a turn: the one holding it gives it up after its stint */
  bulkWaiting(): boolean;
  /** A sync that may be new mail (not yet known to be a backlog) runs; the answer says it ended or turned out a backlog. */
  newMail(): () => void;
  /** syncs that may be new mail run now: a backlog holds back its next fetches */
  newMailRunning(): boolean;
  /** resolves when no sync that may be new mail runs, or after `maxMs` */
  newMailDone(maxMs: number): Promise<void>;
}

export interface SyncHooks {
  signal: AbortSignal;
  /** something the administrator should know about the mailbox (shown with its status) */
  warn(code: WarningCode, message: string): void;
  /** after each commit, with the interactions it created (before the acknowledgement: the mail is safe) */
  committed?(interactionIds: string[]): void;
  scheduler?: SyncScheduler;
  /** a sync with at most this many new messages is urgent */
  urgentCount?: number;
}

/** How a sync begins (see MailboxSync). */
export interface SyncStart {
  /** the first sync on a connection also retries acknowledgements the server refused before */
  firstOnConnection: boolean;
  /**
   * What the previous sync on this connection left, when it ended with everything it stored
   * acknowledged: its cursor. The database holds the same (nobody else writes this maildrop's records
   * while the runner runs it), so the sync needs no read of it before the listing.
   */
  resume?: SyncResume | null;
  /** the mark as possibly new mail, when the runner took it before opening the session (see SyncScheduler.newMail) */
  newMail?: (() => void) | null;
}

export interface SyncResume {
  cursor: string | null;
}

export interface SyncReport {
  /** messages fetched and handed to a commit */
  fetched: number;
  created: number;
  duplicates: number;
  alreadyStored: number;
  /** acknowledged at the server (new and left over) */
  acked: number;
  /** set aside: the server would not hand them over */
  skipped: number;
  /** stored wrapped because the database refused them as they were */
  unstorable: number;
  lane: Lane;
}
