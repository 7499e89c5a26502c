/** Pure planning of a sync: which messages go into which fetch and transaction. */

export interface PlannedItem {
  key: string;
  /** position in the session's listing; the cursor stored with a batch is the listing's cursor through its last item */
  index: number;
  /** the size the server reports */
  size: number;
  /** larger than the mailbox's Max size: only the header block is fetched */
  headersOnly: boolean;
  /** earlier fetches of it that broke the connection: such a message is fetched alone */
  attempts: number;
  /** set aside without fetching (it failed too often), with the reason */
  aside: string | null;
}

export interface BatchLimits {
  maxCount: number;
  maxBytes: number;
}

/**
 * A batch is one transaction: one durable commit (an fsync with synchronous = FULL) for many messages.
 * The API reads on a connection of its own (db/sqlite-thread.ts) and does not wait for it; new mail of
 * another mailbox does wait for the transaction under way, which bounds the batch. Twice this size
 * drained a backlog ~5% faster and made that new mail wait twice as long (bench:ingest, fairness).
 */
export const defaultBatchLimits: BatchLimits = { maxCount: 50, maxBytes: 3 * 1024 * 1024 };

/**
 * Splits the items (in listing order) into batches of at most `maxCount` and about `maxBytes` (a single
 * larger message still goes alone; a header-only fetch counts as nothing). A message whose fetch broke
 * the connection before goes alone, so that if it breaks it again, it alone is charged.
 */
export function planBatches(items: PlannedItem[], limits: BatchLimits): PlannedItem[][] {
  const sorted = [...items].sort((a, b) => a.index - b.index);
  const batches: PlannedItem[][] = [];
  let current: PlannedItem[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length > 0) batches.push(current);
    current = [];
    bytes = 0;
  };
  for (const item of sorted) {
    const cost = item.headersOnly || item.aside !== null ? 0 : item.size;
    const alone = item.attempts > 0 && item.aside === null;
    if (alone || current.length >= limits.maxCount || (current.length > 0 && bytes + cost > limits.maxBytes)) flush();
    current.push(item);
    bytes += cost;
    if (alone) flush();
  }
  flush();
  return batches;
}
