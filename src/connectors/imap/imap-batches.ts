/** Pure planning of an IMAP sync: which UIDs go into which FETCH, and where the cursor stands after each. */

export interface UidSize {
  uid: number;
  size: number;
}

export interface PlannedBatch {
  /** fetched whole (BODY.PEEK[]) */
  full: number[];
  /** larger than the mailbox's Max size: fetched as BODY.PEEK[HEADER] */
  headersOnly: number[];
  /**
   * The cursor to commit with this batch: every UID up to it was either in this or an earlier batch
   * or not wanted (already \Seen on an "unseen" first import), so a sync that resumes after it skips nothing.
   */
  cursorUid: number;
}

export interface BatchLimits {
  maxMessageBytes: number;
  maxCount: number;
  maxBytes: number;
}

/**
 * A batch is one transaction, and while it runs the API's queries wait for the database: 200 messages
 * or 8 MB held it for 100-250 ms (API p99 ~130-210 ms while a backlog drained). 50 messages or 2 MB
 * keep the p99 under 100 ms at about the same throughput (bench:ingest).
 */
export const defaultBatchLimits = { maxCount: 50, maxBytes: 2 * 1024 * 1024 } as const;

/**
 * Splits the wanted messages (ascending UIDs) into batches of at most `maxCount` messages and about
 * `maxBytes` (a single message larger than that still goes alone). `scanTop` is the highest UID that
 * was looked at, wanted or not: the last batch's cursor moves up to it.
 */
export function planBatches(wanted: UidSize[], limits: BatchLimits, scanTop: number): PlannedBatch[] {
  const sorted = [...wanted].sort((a, b) => a.uid - b.uid);
  const batches: PlannedBatch[] = [];
  let current: PlannedBatch = { full: [], headersOnly: [], cursorUid: 0 };
  let bytes = 0;
  const count = () => current.full.length + current.headersOnly.length;
  const flush = () => {
    if (count() > 0) batches.push(current);
    current = { full: [], headersOnly: [], cursorUid: 0 };
    bytes = 0;
  };
  for (const { uid, size } of sorted) {
    const oversize = size > limits.maxMessageBytes;
    // a header block is small; counting it as nothing keeps the arithmetic honest enough
    const cost = oversize ? 0 : size;
    if (count() >= limits.maxCount || (count() > 0 && bytes + cost > limits.maxBytes)) flush();
    if (oversize) current.headersOnly.push(uid);
    else current.full.push(uid);
    bytes += cost;
  }
  flush();
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i]!;
    const next = batches[i + 1];
    const highest = Math.max(...batch.full, ...batch.headersOnly);
    batch.cursorUid = next ? Math.min(...next.full, ...next.headersOnly) - 1 : Math.max(highest, scanTop);
  }
  return batches;
}

/** A compact IMAP sequence set for ascending or unordered UIDs: `1:3,5,7:9`. */
export function uidSet(uids: Iterable<number>): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(",");
}

/** Splits an array into chunks of at most `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `"<uidvalidity>:<uid>"`, the IMAP source key. */
export function imapSourceKey(uidValidity: string, uid: number): string {
  return `${uidValidity}:${uid}`;
}

/** The UID of a source key of this UIDVALIDITY, or null for a key of another one (or not a key at all). */
export function uidOfKey(key: string, uidValidity: string): number | null {
  const prefix = `${uidValidity}:`;
  if (!key.startsWith(prefix)) return null;
  const uid = Number(key.slice(prefix.length));
  return Number.isInteger(uid) && uid > 0 ? uid : null;
}
