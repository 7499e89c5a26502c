import { CompiledQuery, sql, type Compilable, type Kysely } from "kysely";
import pg from "pg";
import type { Database } from "../db/schema.js";
import type { Logger } from "../logger.js";
import type { EventBus, EventTransport, MailroomEvent, StampedEvent } from "../shared/event-bus.js";

const channel = "mailroom_events";
/** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more */
const maxPayload = 7900;

/**
 * Events through PostgreSQL: `pg_notify` sends them (inside the transaction that causes them, where
 * the caller has one), PostgreSQL delivers them at commit to every node's LISTEN connection in commit
 * order, and each node hands them to its bus. The LISTEN connection is a connection of its own, outside
 * the pool; when it breaks, the node reconnects and announces `resync`, since it may have missed events.
 */
export class PostgresChangeFeed implements EventTransport {
  #client: pg.Client | null = null;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #attempt = 0;
  #sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly bus: EventBus,
    private readonly db: Kysely<Database>,
    private readonly url: string,
    private readonly log: Logger,
    /** in PostgreSQL's application_name, to tell the nodes' connections apart */
    private readonly nodeName = "",
  ) {}

  async start(): Promise<void> {
    this.bus.useTransport(this);
    await this.#listen();
  }

  /** The statements that publish the event when the transaction they run in commits. */
  statements(event: MailroomEvent): Compilable[] {
    return split(this.bus.stamp(event)).map((payload) => ({ compile: () => CompiledQuery.raw("select pg_notify($1, $2)", [channel, payload]) }));
  }

  /**
   * One after the other, each sent once the one before has committed: a node's events arrive in the
   * order it published them ("error" then "ok" never the other way round).
   */
  send(stamped: StampedEvent): void {
    for (const payload of split(stamped)) {
      this.#sending = this.#sending.then(() =>
        sql`select pg_notify(${channel}, ${payload})`.execute(this.db).then(
          () => undefined,
          (err: unknown) => this.log.warn({ err, type: stamped.event.type }, "could not publish an event to the other nodes"),
        ),
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#sending;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: (this.nodeName ? `mailroom events ${this.nodeName}` : "mailroom events").slice(0, 63) });
    client.on("notification", (n) => {
      if (n.channel !== channel || !n.payload) return;
      try {
        this.bus.deliver(JSON.parse(n.payload) as StampedEvent);
      } catch (err) {
        this.log.warn({ err }, "an event from the database could not be read");
      }
    });
    const broken = (err?: Error) => {
      if (this.#client !== client || this.#stopped) return;
      this.#client = null;
      void client.end().catch(() => undefined);
      this.log.warn({ err }, "the event feed's connection broke; reconnecting");
      this.#reconnect();
    };
    client.on("error", broken);
    client.on("end", () => broken());
    try {
      await client.connect();
      await client.query(`listen ${channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    // stopped while connecting: this connection is not wanted any more
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#attempt = 0;
  }

  #reconnect(): void {
    const delay = Math.min(10_000, 250 * 2 ** this.#attempt++);
    this.#retry = setTimeout(() => {
      this.#listen().then(
        // events may have been missed meanwhile: this node's runners and every client read afresh
        () => {
          if (!this.#stopped) this.bus.deliver(this.bus.stamp({ type: "resync" }));
        },
        (err: unknown) => {
          this.log.warn({ err }, "could not reconnect the event feed; trying again");
          if (!this.#stopped) this.#reconnect();
        },
      );
    }, delay);
    this.#retry.unref();
  }
}

/** One payload, or (a long list of new interactions or notifications) several, each under PostgreSQL's limit. */
function split(stamped: StampedEvent): string[] {
  const whole = JSON.stringify(stamped);
  // the limit is in bytes: a name in Cyrillic or CJK takes two or three per character
  if (Buffer.byteLength(whole) <= maxPayload) return [whole];
  const { event } = stamped;
  const halves = (make: (part: "a" | "b") => MailroomEvent): string[] => [
    // "." is no digit of the base-36 counter: a part's id can never be another event's
    ...split({ id: `${stamped.id}.a`, event: make("a") }),
    ...split({ id: `${stamped.id}.b`, event: make("b") }),
  ];
  if (event.type === "interaction.created" && event.interactionIds.length > 1) {
    const half = Math.ceil(event.interactionIds.length / 2);
    return halves((p) => ({ ...event, interactionIds: p === "a" ? event.interactionIds.slice(0, half) : event.interactionIds.slice(half) }));
  }
  if (event.type === "graph.notifications" && event.items.length > 1) {
    const half = Math.ceil(event.items.length / 2);
    return halves((p) => ({ ...event, items: p === "a" ? event.items.slice(0, half) : event.items.slice(half) }));
  }
  // nothing else grows with the data; an event that still does not fit is not sent rather than failing the transaction
  return [];
}
