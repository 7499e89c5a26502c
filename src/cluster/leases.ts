import { CompiledQuery, sql, type Kysely } from "kysely";
import pg from "pg";
import type { Database } from "../db/schema.js";
import { FencedOutError, unfenced, type Fence } from "../db/fence.js";
import type { Logger } from "../logger.js";

/** This process among the nodes on one database. */
export interface NodeIdentity {
  /** new at every start */
  id: string;
  /** MAILROOM_NODE_NAME, host:port by default */
  name: string;
}

export interface LeaseTimings {
  /** a lease not renewed for this long is lost, and another node may take the mailbox */
  leaseMs: number;
  /** renewal and balancing run this often; a quarter of the lease time */
  tickMs: number;
  /** the most mailboxes a node gives up in one tick when nodes rebalance: no reconnect storm */
  rebalanceStep: number;
}

export function leaseTimings(leaseSeconds: number): LeaseTimings {
  const leaseMs = leaseSeconds * 1000;
  return { leaseMs, tickMs: Math.max(250, Math.floor(leaseMs / 4)), rebalanceStep: 10 };
}

export interface LeaseHooks {
  /** the mailboxes that should run somewhere (enabled, inbound, with a connector) */
  wanted(): Promise<string[]>;
  /** the held set changed: leases taken, lost, or to give up */
  changed(): void;
}

/**
 * Which mailboxes this node runs. On PostgreSQL every enabled mailbox is owned by exactly one node
 * through a lease row; on SQLite the one node holds them all.
 */
export interface MailboxLeases {
  readonly node: NodeIdentity;
  /** the token of this node's lease on the mailbox; undefined when it must not run it */
  tokenOf(mailboxId: string): number | undefined;
  /** mailboxes whose runners must stop before their leases are given up with release() */
  releasing(): string[];
  release(mailboxIds: string[]): Promise<void>;
  /** the check that keeps a stale holder from writing for the mailbox */
  fence(mailboxId: string, token: number): Fence;
  /** the runner found the lease gone (its commit was fenced out): not to be run here again under this token */
  forget(mailboxId: string): void;
  /** renew and balance soon (the enabled mailboxes changed) */
  nudge(): void;
  start(hooks: LeaseHooks): Promise<void>;
  /** hands every lease back at once (a clean stop: the others take over without waiting for expiry) */
  stop(): Promise<void>;
}

/** SQLite: one node, which holds every mailbox; it keeps its row in `nodes` for the nodes view. */
export class SingleNodeLeases implements MailboxLeases {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly node: NodeIdentity,
    private readonly db: Kysely<Database>,
    private readonly heartbeatMs: number,
  ) {}

  tokenOf(): number {
    return 0;
  }

  releasing(): string[] {
    return [];
  }

  async release(): Promise<void> {}

  fence(): Fence {
    return unfenced;
  }

  forget(): void {}

  nudge(): void {}

  async start(): Promise<void> {
    const now = Date.now();
    // a node of an earlier start of this database is gone: one node at a time runs on SQLite
    await this.db.deleteFrom("nodes").execute();
    await this.db.insertInto("nodes").values({ id: this.node.id, name: this.node.name, started_ms: now, heartbeat_ms: now }).execute();
    this.#timer = setInterval(() => {
      this.db
        .updateTable("nodes")
        .set({ heartbeat_ms: Date.now() })
        .where("id", "=", this.node.id)
        .execute()
        .catch(() => undefined);
    }, this.heartbeatMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.db.deleteFrom("nodes").where("id", "=", this.node.id).execute();
  }
}

/** Milliseconds since the epoch on the database's clock, at the moment the statement runs. */
const dbNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/**
 * PostgreSQL: leases in `mailbox_leases`, on the database's clock, kept on a connection of their own
 * (a pool busy with ingest never delays a renewal). Each tick: one heartbeat, one statement that renews
 * every lease of this node, and the balance: a node below its fair share (enabled mailboxes / live
 * nodes) takes free or expired leases; a node above it gives up a few per tick, stopping each runner
 * before its lease goes.
 */
export class PostgresLeases implements MailboxLeases {
  readonly #held = new Map<string, number>();
  readonly #releasing = new Set<string>();
  #client: pg.Client | null = null;
  #hooks: LeaseHooks | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #stopped = false;
  #nudged = false;
  /** this process's clock at the last renewal that answered */
  #renewedAt = 0;

  constructor(
    readonly node: NodeIdentity,
    private readonly db: Kysely<Database>,
    private readonly url: string,
    private readonly timings: LeaseTimings,
    private readonly log: Logger,
  ) {}

  tokenOf(mailboxId: string): number | undefined {
    return this.#releasing.has(mailboxId) ? undefined : this.#held.get(mailboxId);
  }

  releasing(): string[] {
    return [...this.#releasing];
  }

  forget(mailboxId: string): void {
    this.#held.delete(mailboxId);
    this.#releasing.delete(mailboxId);
  }

  nudge(): void {
    if (this.#stopped || this.#nudged) return;
    this.#nudged = true;
    void this.#run().finally(() => {
      this.#nudged = false;
      this.#schedule();
    });
  }

  /** Gives up leases whose runners have stopped; only while this node's token is still on them. */
  async release(mailboxIds: string[]): Promise<void> {
    if (mailboxIds.length === 0) return;
    const tokens = mailboxIds.map((id) => this.#held.get(id)).filter((t): t is number => t !== undefined);
    await sql`delete from mailbox_leases where node_id = ${this.node.id} and token = any(${tokens}::bigint[])`.execute(this.db);
    for (const id of mailboxIds) {
      this.#held.delete(id);
      this.#releasing.delete(id);
    }
  }

  fence(mailboxId: string, token: number): Fence {
    const { id: nodeId } = this.node;
    return {
      check: () => ({
        // FOR KEY SHARE holds the row until the commit: a takeover, which locks the row FOR UPDATE,
        // skips it until this transaction has ended; a renewal (an UPDATE of expires_ms alone, no key)
        // does not wait for it, nor it for a renewal, so renewals and commits never queue behind each other
        statements: [
          {
            compile: () =>
              CompiledQuery.raw(`select token from mailbox_leases where mailbox_id = $1 and node_id = $2 and token = $3 and expires_ms > ${dbNow} for key share`, [
                mailboxId,
                nodeId,
                token,
              ]),
          },
        ],
        result: ([result]) => {
          if (!result?.rows.length) throw new FencedOutError(`This node no longer holds the lease on mailbox ${mailboxId} (token ${token}): another node runs it now.`);
        },
      }),
    };
  }

  async start(hooks: LeaseHooks): Promise<void> {
    this.#hooks = hooks;
    await this.#run();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    try {
      const client = await this.#connection();
      await client.query("delete from mailbox_leases where node_id = $1", [this.node.id]);
      await client.query("delete from nodes where id = $1", [this.node.id]);
    } catch (err) {
      this.log.warn({ err }, "could not hand the leases back; other nodes take the mailboxes when the leases expire");
    } finally {
      this.#held.clear();
      this.#releasing.clear();
      await this.#client?.end().catch(() => undefined);
      this.#client = null;
    }
  }

  /** One tick at a time: a nudge waits for the tick under way. */
  #run(): Promise<void> {
    this.#ticking = this.#ticking.then(() => this.#tick());
    return this.#ticking;
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run().finally(() => this.#schedule()), this.timings.tickMs);
    this.#timer.unref();
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = new pg.Client({ connectionString: this.url, application_name: `mailroom leases ${this.node.name}`.slice(0, 63) });
    client.on("error", (err) => {
      this.log.warn({ err }, "the lease connection broke; reconnecting at the next tick");
      if (this.#client === client) this.#client = null;
      void client.end().catch(() => undefined);
    });
    await client.connect();
    this.#client = client;
    return client;
  }

  async #tick(): Promise<void> {
    if (this.#stopped || !this.#hooks) return;
    const { leaseMs, rebalanceStep } = this.timings;
    let changed = false;
    try {
      const client = await this.#connection();
      await client.query(
        `insert into nodes (id, name, started_ms, heartbeat_ms) values ($1, $2, ${dbNow}, ${dbNow})
         on conflict (id) do update set heartbeat_ms = excluded.heartbeat_ms`,
        [this.node.id, this.node.name],
      );
      // one statement renews them all; a lease that expired meanwhile (a pause) is not renewed but lost
      const renewed = await client.query<{ mailbox_id: string; token: string }>(
        `update mailbox_leases set expires_ms = ${dbNow} + $2 where node_id = $1 and expires_ms > ${dbNow} returning mailbox_id, token`,
        [this.node.id, leaseMs],
      );
      const now = new Map(renewed.rows.map((r) => [r.mailbox_id, Number(r.token)]));
      for (const [id, token] of this.#held) {
        if (now.get(id) !== token) {
          changed = true;
          this.#releasing.delete(id);
          this.log.warn({ mailboxId: id }, "lost the lease on a mailbox (not renewed in time); another node takes it");
        }
      }
      this.#held.clear();
      for (const [id, token] of now) this.#held.set(id, token);
      this.#renewedAt = Date.now();

      const wanted = await this.#hooks.wanted();
      const live = await client.query<{ n: string }>(`select count(*) as n from nodes where heartbeat_ms > ${dbNow} - $1`, [leaseMs]);
      const share = Math.ceil(wanted.length / Math.max(1, Number(live.rows[0]?.n ?? 1)));
      const wantedSet = new Set(wanted);
      const giveUp = [...this.#held.keys()].filter((id) => !wantedSet.has(id) && !this.#releasing.has(id));
      const kept = [...this.#held.keys()].filter((id) => wantedSet.has(id) && !this.#releasing.has(id));
      if (kept.length > share) giveUp.push(...kept.slice(0, Math.min(kept.length - share, rebalanceStep)));
      for (const id of giveUp) this.#releasing.add(id);
      if (giveUp.length) changed = true;
      if (kept.length < share) {
        // Free and expired leases, in random order so that nodes taking at once collide little. An
        // expired lease whose row is locked is skipped, not waited for: the lock is a commit under way
        // (the fence holds it), perhaps of a paused node that PostgreSQL ends after
        // idle_in_transaction_session_timeout; waiting would stall this node's own renewals. Of two
        // nodes taking one free mailbox, the conflict clause lets only the first have it.
        const taken = await client.query<{ mailbox_id: string; token: string }>(
          `with n as (select ${dbNow} as now),
                expired as (
                  select l.mailbox_id as id from mailbox_leases l, n
                   where l.mailbox_id = any($2::text[]) and l.expires_ms <= n.now
                   for update of l skip locked),
                free as (
                  select m.id from mailboxes m
                   where m.id = any($2::text[]) and not exists (select 1 from mailbox_leases l where l.mailbox_id = m.id)),
                chosen as (
                  select id from (select id from expired union all select id from free) c order by random() limit $4)
           insert into mailbox_leases (mailbox_id, node_id, token, acquired_ms, expires_ms)
           select chosen.id, $1, nextval('mailbox_lease_tokens'), n.now, n.now + $3 from chosen, n
           on conflict (mailbox_id) do update
             set node_id = excluded.node_id, token = excluded.token, acquired_ms = excluded.acquired_ms, expires_ms = excluded.expires_ms
             where mailbox_leases.expires_ms <= excluded.acquired_ms
           returning mailbox_id, token`,
          [this.node.id, wanted, leaseMs, share - kept.length],
        );
        for (const r of taken.rows) this.#held.set(r.mailbox_id, Number(r.token));
        if (taken.rows.length) changed = true;
      }
    } catch (err) {
      this.log.warn({ err }, "could not renew or balance mailbox leases; trying again at the next tick");
      // unrenewed for a lease time, the leases are gone: the runners stop (their commits are refused anyway)
      if (this.#held.size && Date.now() - this.#renewedAt > leaseMs) {
        this.log.warn({ mailboxes: this.#held.size }, "the leases could not be renewed within the lease time; stopping this node's mailboxes");
        this.#held.clear();
        this.#releasing.clear();
        changed = true;
      }
    }
    if (changed) this.#hooks.changed();
  }
}
