/**
 * A counting semaphore: at most `size` holders at once (logins in flight when 1,000 mailboxes start,
 * the database's writer, backlogs draining at once). Waiters are served in arrival order, urgent ones
 * before the others.
 */
export class Semaphore {
  #free: number;
  readonly #urgent: (() => void)[] = [];
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  /** how many wait for a slot now */
  get waiting(): number {
    return this.#urgent.length + this.#waiting.length;
  }

  /** Waits for a slot; the answer gives it back (once, however often it is called). */
  acquire(urgent = false): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => (urgent ? this.#urgent : this.#waiting).push(() => resolve(this.#releaser())));
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>, urgent = false): Promise<T> {
    const release = await this.acquire(urgent);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // handed on to the next waiter directly, so that nobody who arrives meanwhile overtakes it
      const next = this.#urgent.shift() ?? this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
