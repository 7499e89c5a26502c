import { Fanout } from "./fanout.js";

/** What the UI hears about: new interactions, their changes (accepted, transferred, done), mailbox status changes and mailbox changes. */
export type MailroomEvent =
  | { type: "interaction.created"; mailboxId: string; interactionIds: string[] }
  | { type: "interaction.updated"; interactionId: string; state: string; queueId: string | null; agentId: string | null; action: string }
  | { type: "outbound.updated"; outboundId: string; interactionId: string | null; state: string }
  | { type: "mailbox.status"; mailboxId: string; state: string; code: string | null; message: string | null }
  /** a mailbox was created, changed or deleted, or an application enabled or disabled some: lists of mailboxes are stale */
  | { type: "mailboxes.changed" }
  /** between nodes only: Graph notifications that reached a node which does not hold their subscriptions; the holder wakes its mailbox */
  | { type: "graph.notifications"; kind: "changes" | "lifecycle"; items: { subscriptionId: string; clientState: string; lifecycleEvent?: string }[] }
  /** this node may have missed events (its feed connection broke): whatever was read before is stale */
  | { type: "resync" };

/** The events that go to clients; the rest are between nodes. */
export function isClientEvent(event: MailroomEvent): boolean {
  return event.type !== "graph.notifications";
}

/** An event with the id it has on every node (the same id everywhere, for a client that reconnects elsewhere). */
export interface StampedEvent {
  id: string;
  event: MailroomEvent;
}

/** How events leave a node: to this node alone (one node), or through the database to every node. */
export interface EventTransport {
  send(stamped: StampedEvent): void;
}

/**
 * The node's change feed: events are stamped, sent through the transport, and handed to the listeners
 * of this node as they come back (in the database's commit order on PostgreSQL, so every node sees
 * them in one order). The last `keep` are kept, so a client that reconnects with Last-Event-ID catches up.
 */
export class EventBus {
  readonly #fanout = new Fanout<StampedEvent>();
  readonly #recent: StampedEvent[] = [];
  #transport: EventTransport = { send: (stamped) => this.deliver(stamped) };
  #counter = 0;
  readonly #prefix: string;

  constructor(
    /** distinguishes ids minted by this node from other nodes' */
    nodeTag: string = Math.random().toString(36).slice(2, 10),
    private readonly keep = 2000,
  ) {
    this.#prefix = `${nodeTag}-${Date.now().toString(36)}-`;
  }

  useTransport(transport: EventTransport): void {
    this.#transport = transport;
  }

  /** Stamps the event and sends it; the stamp is returned for a transport that sends it inside a transaction. */
  stamp(event: MailroomEvent): StampedEvent {
    return { id: `${this.#prefix}${(++this.#counter).toString(36)}`, event };
  }

  publish(event: MailroomEvent): void {
    this.#transport.send(this.stamp(event));
  }

  /** An event has arrived (from this node or another): to the listeners. */
  deliver(stamped: StampedEvent): void {
    if (stamped.event.type !== "resync") {
      this.#recent.push(stamped);
      if (this.#recent.length > this.keep) this.#recent.splice(0, this.#recent.length - this.keep);
    }
    this.#fanout.publish(stamped);
  }

  /** The events after the one with this id; null when it is not among the recent ones (too old, or never seen here). */
  since(id: string): StampedEvent[] | null {
    const at = this.#recent.findIndex((s) => s.id === id);
    return at < 0 ? null : this.#recent.slice(at + 1);
  }

  subscribe(listener: (stamped: StampedEvent) => void): () => void {
    return this.#fanout.subscribe(listener);
  }

  /** Listens to one type of event. */
  on<T extends MailroomEvent["type"]>(type: T, listener: (event: Extract<MailroomEvent, { type: T }>) => void): () => void {
    return this.#fanout.subscribe((s) => {
      if (s.event.type === type) listener(s.event as Extract<MailroomEvent, { type: T }>);
    });
  }

  get size(): number {
    return this.#fanout.size;
  }
}
