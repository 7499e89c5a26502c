import { afterEach, beforeEach, describe, expect, it } from "vitest";
import pg from "pg";
import { sql } from "kysely";
import { FencedOutError } from "../db/fence.js";
import { executeReadings } from "../db/statement-batch.js";
import { IngestService } from "../ingest/ingest.service.js";
import { DatabaseBlobStore } from "../blobs/blob-store.js";
import { createLogger } from "../logger.js";
import { systemClock } from "../shared/clock.js";
import { openTestDb, type TestDb } from "../../test/support/dialects.js";
import { commitMessages, fakeParse, insertMailboxRow, msg } from "../../test/support/ingest-fixtures.js";
import { leaseTimings, PostgresLeases } from "./leases.js";

const log = createLogger("silent");
const leaseSeconds = 2;

/** Waits until `done` holds, bounded by a generous deadline: a slow machine only takes longer. */
async function until(what: string, done: () => boolean | Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("mailbox leases on PostgreSQL", () => {
  let t: TestDb;
  let url: string;
  const nodes: PostgresLeases[] = [];
  let ids: string[];

  /** A node whose runner manager gives up what the leases ask at once, as the real one does once runners stopped. */
  async function startNode(name: string, wanted: () => string[] = () => ids): Promise<PostgresLeases> {
    const node = new PostgresLeases({ id: `node-${name}`, name }, t.db.kysely, url, leaseTimings(leaseSeconds), log);
    nodes.push(node);
    await node.start({
      wanted: () => Promise.resolve(wanted()),
      changed: () => void node.release(node.releasing()),
    });
    return node;
  }

  const heldBy = (node: PostgresLeases) => ids.filter((id) => node.tokenOf(id) !== undefined);

  async function leaseRows(): Promise<{ mailbox_id: string; node_id: string; token: number }[]> {
    return t.db.kysely.selectFrom("mailbox_leases").select(["mailbox_id", "node_id", "token"]).execute();
  }

  beforeEach(async () => {
    t = await openTestDb("postgres");
    if (t.databaseConfig.dialect !== "postgres") throw new Error("unreachable");
    url = t.databaseConfig.url;
    ids = Array.from({ length: 30 }, (_, i) => `mb-${String(i).padStart(2, "0")}`);
    for (const id of ids) await insertMailboxRow(t.db.kysely, id);
  });

  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.stop();
    await t.cleanup();
  });

  it("spreads the mailboxes evenly over three nodes, each mailbox held by exactly one", async () => {
    const [a, b, c] = [await startNode("a"), await startNode("b"), await startNode("c")];
    await until("an even spread", () => [a, b, c].every((n) => heldBy(n).length === 10));
    const rows = await leaseRows();
    expect(rows).toHaveLength(30);
    expect(new Set(rows.map((r) => r.mailbox_id)).size).toBe(30);
    // what each node believes it holds is what the database says
    for (const n of [a, b, c]) expect(heldBy(n).sort()).toEqual(rows.filter((r) => r.node_id === n.node.id).map((r) => r.mailbox_id).sort());
  });

  it("takes over the mailboxes of a node that stopped renewing only once their leases expired", async () => {
    // a node that died: its leases and heartbeat stay behind, unrenewed
    await sql`insert into nodes (id, name, started_ms, heartbeat_ms) values ('dead', 'dead', 0, (extract(epoch from clock_timestamp()) * 1000)::bigint)`.execute(t.db.kysely);
    for (const id of ids) {
      await sql`insert into mailbox_leases (mailbox_id, node_id, token, acquired_ms, expires_ms)
                values (${id}, 'dead', nextval('mailbox_lease_tokens'), 0, (extract(epoch from clock_timestamp()) * 1000)::bigint + 600000)`.execute(t.db.kysely);
    }
    const deadTokens = (await leaseRows()).map((r) => Number(r.token));
    const live = await startNode("live");
    expect(heldBy(live)).toEqual([]);
    // the lease time passes (set on the database's clock, which is the one that counts)
    await sql`update mailbox_leases set expires_ms = 0 where node_id = 'dead'`.execute(t.db.kysely);
    await sql`update nodes set heartbeat_ms = 0 where id = 'dead'`.execute(t.db.kysely);
    live.nudge();
    await until("the live node holding all", () => heldBy(live).length === 30);
    const rows = await leaseRows();
    expect(rows.every((r) => r.node_id === live.node.id)).toBe(true);
    // a later holder always has a larger token: a write fenced by an old token can never pass
    expect(Math.min(...rows.map((r) => Number(r.token)))).toBeGreaterThan(Math.max(...deadTokens));
  });

  it("hands every lease back when a node stops, so that another takes them without waiting for expiry", async () => {
    const a = await startNode("a");
    await until("a holding all", () => heldBy(a).length === 30);
    const b = await startNode("b");
    nodes.splice(nodes.indexOf(a), 1);
    await a.stop();
    expect((await leaseRows()).filter((r) => r.node_id === a.node.id)).toEqual([]);
    b.nudge();
    await until("b holding all", () => heldBy(b).length === 30);
  });

  it("gives up at most a few mailboxes per tick when a node joins, and ends balanced", async () => {
    const a = await startNode("a");
    await until("a holding all", () => heldBy(a).length === 30);
    const seen: number[] = [];
    const b = await startNode("b");
    await until("a balanced", () => {
      seen.push(heldBy(a).length);
      return heldBy(a).length === 15 && heldBy(b).length === 15;
    });
    // never more than the rebalance step (10) dropped between two looks a tick apart or less
    const drops = seen.slice(1).map((n, i) => seen[i]! - n);
    expect(Math.max(...drops)).toBeLessThanOrEqual(leaseTimings(leaseSeconds).rebalanceStep);
  });

  describe("fencing", () => {
    const lost = async (mailboxId: string) => {
      await sql`update mailbox_leases set expires_ms = 0 where mailbox_id = ${mailboxId}`.execute(t.db.kysely);
    };

    it("refuses the commit of a node whose lease was taken over, writing nothing", async () => {
      const a = await startNode("a", () => ids.slice(0, 1));
      await until("a holding mb-00", () => a.tokenOf("mb-00") !== undefined);
      const token = a.tokenOf("mb-00")!;
      const ingest = new IngestService(t.db.kysely, new DatabaseBlobStore(t.db.kysely), fakeParse, systemClock);
      const target = { mailboxId: "mb-00", queueId: null, nodeId: a.node.id, fence: a.fence("mb-00", token) };
      // while it holds the lease, it stores, and notes itself on the message
      await commitMessages(ingest, target, [msg("1:1", "one@x|one")]);
      expect(await t.db.kysely.selectFrom("messages").select("node_id").execute()).toEqual([{ node_id: a.node.id }]);

      // a paused past its lease; b takes the mailbox
      await lost("mb-00");
      const b = await startNode("b", () => ids.slice(0, 1));
      await until("b holding mb-00", () => b.tokenOf("mb-00") !== undefined);
      await expect(commitMessages(ingest, target, [msg("1:2", "two@x|two")], { cursor: "c2" })).rejects.toThrow(FencedOutError);
      for (const table of ["messages", "interactions", "source_keys", "blobs"] as const) {
        const n = await t.db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
        expect(Number(n.n), table).toBe(1);
      }
      expect(await t.db.kysely.selectFrom("source_cursors").selectAll().execute()).toEqual([]);
    });

    it("holds off a takeover, but not a renewal, until the commit under way has ended", async () => {
      const a = await startNode("a", () => ids.slice(0, 1));
      await until("a holding mb-00", () => a.tokenOf("mb-00") !== undefined);
      const fence = a.fence("mb-00", a.tokenOf("mb-00")!);
      const other = new pg.Client({ connectionString: url, application_name: "takeover" });
      await other.connect();
      try {
        let releaseTrx!: () => void;
        const trxHeld = new Promise<void>((r) => (releaseTrx = r));
        let checked!: () => void;
        const fenceChecked = new Promise<void>((r) => (checked = r));
        const trx = t.db.kysely.transaction().execute(async (k) => {
          await executeReadings(k, [fence.check()]);
          checked();
          await trxHeld;
        });
        await fenceChecked;
        // a renewal is not held up by the commit under way (it changes no key)
        await other.query("update mailbox_leases set expires_ms = expires_ms + 1 where mailbox_id = 'mb-00'");
        // a takeover locks the row FOR UPDATE first (without SKIP LOCKED here, to see it wait)
        let done = false;
        const takeover = other
          .query("begin; select 1 from mailbox_leases where mailbox_id = 'mb-00' for update; update mailbox_leases set node_id = 'b', token = token + 1000 where mailbox_id = 'mb-00'; commit")
          .then(() => (done = true));
        // the takeover is waiting on the fenced transaction's lock (seen from PostgreSQL, not from the clock)
        await until("the takeover waiting on a lock", async () => {
          const waiting = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = 'takeover' and wait_event_type = 'Lock'`.execute(
            t.db.kysely,
          );
          return waiting.rows[0]!.n === 1;
        });
        expect(done).toBe(false);
        releaseTrx();
        await trx;
        await takeover;
        expect(done).toBe(true);
      } finally {
        await other.end();
      }
    });
  });
});
