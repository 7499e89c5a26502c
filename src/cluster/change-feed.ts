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

  constructor(
    private readonly bus: EventBus,
    private readonly db: Kysely<Database>,
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.bus.useTransport(this);
    await this.#listen();
  }

  /** The statements that publish the event when the transaction they run in commits. */
  statements(event: MailroomEvent): Compilable[] {
    return payloads(this.bus, event).map((payload) => ({ compile: () => CompiledQuery.raw("select pg_notify($1, $2)", [channel, payload]) }));
  }

  send(stamped: StampedEvent): void {
    for (const payload of split(stamped)) {
      sql`select pg_notify(${channel}, ${payload})`.execute(this.db).catch((err: unknown) => {
        this.log.warn({ err, type: stamped.event.type }, "could not publish an event to the other nodes");
      });
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: "mailroom events" });
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
    await client.connect();
    await client.query(`listen ${channel}`);
    this.#client = client;
    this.#attempt = 0;
  }

  #reconnect(): void {
    const delay = Math.min(10_000, 250 * 2 ** this.#attempt++);
    this.#retry = setTimeout(() => {
      this.#listen().then(
        // events may have been missed meanwhile: this node's runners and every client read afresh
        () => this.bus.deliver(this.bus.stamp({ type: "resync" })),
        (err: unknown) => {
          this.log.warn({ err }, "could not reconnect the event feed; trying again");
          if (!this.#stopped) this.#reconnect();
        },
      );
    }, delay);
    this.#retry.unref();
  }
}

function payloads(bus: EventBus, event: MailroomEvent): string[] {
  return split(bus.stamp(event));
}

/** One payload, or (a long list of new interactions or notifications) several, each under PostgreSQL's limit. */
function split(stamped: StampedEvent): string[] {
  const whole = JSON.stringify(stamped);
  if (whole.length <= maxPayload) return [whole];
  const { event } = stamped;
  const halves = (make: (part: "a" | "b") => MailroomEvent): string[] => [
    ...split({ id: `${stamped.id}a`, event: make("a") }),
    ...split({ id: `${stamped.id}b`, event: make("b") }),
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
