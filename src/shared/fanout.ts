/**
 * In-process fan-out to the listeners of this node. A listener that throws is never allowed to break
 * the publisher (a runner, a sign-out): its own close handler cleans up after it.
 */
export class Fanout<T> {
  readonly #listeners = new Set<(item: T) => void>();

  publish(item: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(item);
      } catch {
        // one broken listener must not keep the others, or the publisher, from going on
      }
    }
  }

  subscribe(listener: (item: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#listeners.size;
  }
}
