import { EventStreamConnection } from "./event-stream.js";

/** A `mailbox.status` event as the stream carried it, with the moment (Date.now()) its bytes arrived here. */
export interface MailboxStatusEvent {
  mailboxId: string;
  state: string;
  at: number;
}

/**
 * One open `GET /api/v1/events` with a bearer token, listening for the `mailbox.status` events the web
 * UI shows a mailbox's state from. Timestamps are wall-clock ms (Date.now()), the clock the cluster
 * harness's views of GET /api/v1/nodes are stamped with. `resync` events (the node's change feed had a
 * gap: events may be missing) are counted.
 */
export class MailboxStatusStream {
  private constructor(
    private readonly connection: EventStreamConnection,
    private readonly seen: { events: MailboxStatusEvent[]; resyncs: number },
  ) {}

  static async open(base: string, token: string): Promise<MailboxStatusStream> {
    const seen = { events: [] as MailboxStatusEvent[], resyncs: 0 };
    const connection = await EventStreamConnection.open(
      base,
      token,
      ({ type, data, at }) => {
        if (type === "resync") seen.resyncs++;
        if (type !== "mailbox.status") return;
        const event = JSON.parse(data) as { mailboxId: string; state: string };
        seen.events.push({ mailboxId: event.mailboxId, state: event.state, at });
      },
      Date.now,
    );
    return new MailboxStatusStream(connection, seen);
  }

  get events(): MailboxStatusEvent[] {
    return this.seen.events;
  }

  get resyncs(): number {
    return this.seen.resyncs;
  }

  /** Why the stream ended before close() was called, or null while it is open. */
  get ended(): string | null {
    return this.connection.ended;
  }

  close(): void {
    this.connection.close();
  }
}
