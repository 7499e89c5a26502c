import type { Reading } from "./statement-batch.js";

/**
 * A writer's right to write, checked inside its transaction: a node writes for a mailbox only while it
 * holds the mailbox's lease. The check runs first and keeps the right locked until the commit, so a
 * node whose lease expired (paused, cut off) commits nothing, and so acknowledges nothing.
 */
export interface Fence {
  /** the statements of the check; their result throws FencedOutError when the right is gone */
  check(): Reading<void>;
}

export class FencedOutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FencedOutError";
  }
}

/** One node (SQLite): always allowed. */
export const unfenced: Fence = { check: () => ({ statements: [], result: () => undefined }) };
