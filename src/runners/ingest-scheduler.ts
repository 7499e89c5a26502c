import { Semaphore } from "../shared/semaphore.js";
import type { Lane, SyncScheduler } from "./mailbox-sync.js";

/**
 * Shares what all mailboxes of a node use — the database's writer and the machine — so that new mail
 * to a quiet mailbox never waits behind other mailboxes' backlogs: its transactions go before waiting
 * bulk ones, backlogs take turns, a stint of batches at a time, in the order they asked, whenever
 * another backlog waits for one, and while a sync that may be new mail runs, backlogs hold back their
 * next fetches and commits (see MailboxSync's pipeline).
 */
export class IngestScheduler implements SyncScheduler {
  readonly #transactions: Semaphore;
  readonly #bulk: Semaphore;
  /** syncs that may be new mail, running now, and who waits for there to be none */
  #newMail = 0;
  readonly #quiet = new Set<() => void>();

  constructor(options: { transactions: number; bulkTurns: number }) {
    this.#transactions = new Semaphore(options.transactions);
    this.#bulk = new Semaphore(options.bulkTurns);
  }

  transaction<T>(lane: Lane, fn: () => Promise<T>): Promise<T> {
    return this.#transactions.run(fn, lane === "urgent");
  }

  bulkTurn(): Promise<() => void> {
    return this.#bulk.acquire();
  }

  bulkWaiting(): boolean {
    return this.#bulk.waiting > 0;
  }

  newMail(): () => void {
    this.#newMail++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.#newMail > 0) return;
      for (const wake of this.#quiet) wake();
      this.#quiet.clear();
    };
  }

  newMailRunning(): boolean {
    return this.#newMail > 0;
  }

  newMailDone(maxMs: number): Promise<void> {
    if (this.#newMail === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // a waiter that gave up leaves: where new mail never stops for long, the waiters would pile up
      const wake = () => {
        clearTimeout(timer);
        this.#quiet.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxMs);
      this.#quiet.add(wake);
    });
  }
}
