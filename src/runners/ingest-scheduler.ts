import type { Lane, SyncScheduler } from "./mailbox-sync.js";

/**
 * Shares what all mailboxes of a node use — the database's writer and the machine — so that new mail
 * to a quiet mailbox never waits behind other mailboxes' backlogs: its transactions go before waiting
 * bulk ones, and backlogs take turns, a batch at a time, in the order they asked.
 */
export class IngestScheduler implements SyncScheduler {
  readonly #transactions: PrioritySlots;
  readonly #bulk: PrioritySlots;

  constructor(options: { transactions: number; bulkTurns: number }) {
    this.#transactions = new PrioritySlots(options.transactions);
    this.#bulk = new PrioritySlots(options.bulkTurns);
  }

  async transaction<T>(lane: Lane, fn: () => Promise<T>): Promise<T> {
    const release = await this.#transactions.acquire(lane === "urgent");
    try {
      return await fn();
    } finally {
      release();
    }
  }

  bulkTurn(): Promise<() => void> {
    return this.#bulk.acquire(false);
  }
}

/** A counting semaphore whose urgent waiters are served before the others, each kind in arrival order. */
class PrioritySlots {
  #free: number;
  readonly #urgent: (() => void)[] = [];
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  acquire(urgent: boolean): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => (urgent ? this.#urgent : this.#waiting).push(() => resolve(this.#releaser())));
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#urgent.shift() ?? this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
