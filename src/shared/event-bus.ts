/** What the UI hears about: new interactions and mailbox status changes. */
export type MailroomEvent =
  | { type: "interaction.created"; mailboxId: string; interactionIds: string[] }
  | { type: "mailbox.status"; mailboxId: string; state: string; code: string | null; message: string | null };

/**
 * In-process fan-out of events to the open event streams of this node. A listener that throws is
 * logged by the caller's handler, never allowed to break the publisher (a runner).
 */
export class EventBus {
  readonly #listeners = new Set<(e: MailroomEvent) => void>();

  publish(event: MailroomEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a broken stream must not stop mail from flowing; the stream's own close handler cleans up
      }
    }
  }

  subscribe(listener: (e: MailroomEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#listeners.size;
  }
}
