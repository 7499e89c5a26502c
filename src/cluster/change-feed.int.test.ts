import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { executeStatements } from "../db/statement-batch.js";
import { createLogger } from "../logger.js";
import { newId } from "../shared/ids.js";
import { EventBus, type MailroomEvent, type StampedEvent } from "../shared/event-bus.js";
import { openTestDb, type TestDb } from "../../test/support/dialects.js";
import { PostgresChangeFeed } from "./change-feed.js";

const log = createLogger("silent");

/** Waits until `done` holds, bounded by a generous deadline: a slow machine only takes longer. */
async function until(what: string, done: () => boolean | Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface FeedNode {
  bus: EventBus;
  feed: PostgresChangeFeed;
  /** everything this node's bus delivered, in order */
  heard: StampedEvent[];
  /** the backend pid of this node's LISTEN connection */
  listenPid: number;
}

const status = (mailboxId: string, message: string): MailroomEvent => ({ type: "mailbox.status", mailboxId, state: "ok", code: null, message });
const messagesOf = (node: FeedNode, mailboxId: string) =>
  node.heard.flatMap((s) => (s.event.type === "mailbox.status" && s.event.mailboxId === mailboxId ? [s.event.message] : []));

describe("PostgresChangeFeed: events between nodes through PostgreSQL", () => {
  let t: TestDb;
  let url: string;
  const nodes: FeedNode[] = [];

  async function listenPids(): Promise<number[]> {
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where application_name = 'mailroom events' and datname = current_database()`.execute(
      t.db.kysely,
    );
    return rows.map((r) => r.pid);
  }

  async function startNode(tag: string): Promise<FeedNode> {
    const before = new Set(await listenPids());
    const bus = new EventBus(tag);
    const feed = new PostgresChangeFeed(bus, t.db.kysely, url, log);
    const heard: StampedEvent[] = [];
    bus.subscribe((s) => heard.push(s));
    await feed.start();
    // both nodes' LISTEN connections share one application_name: this node's is the one that is new
    const added = (await listenPids()).filter((pid) => !before.has(pid));
    expect(added).toHaveLength(1);
    const node: FeedNode = { bus, feed, heard, listenPid: added[0]! };
    nodes.push(node);
    return node;
  }

  /** Publishes a marker from `from` and waits until every node heard it: whatever was committed before it has arrived. */
  async function flush(from: FeedNode, label: string): Promise<void> {
    from.bus.publish(status("marker", label));
    await until(`marker ${label} on every node`, () => nodes.every((n) => messagesOf(n, "marker").includes(label)));
  }

  beforeEach(async () => {
    t = await openTestDb("postgres");
    if (t.databaseConfig.dialect !== "postgres") throw new Error("unreachable");
    url = t.databaseConfig.url;
  });

  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.feed.stop();
    await t.cleanup();
  });

  it("delivers an event published on one node to both nodes, with the same id, and several in one order on both", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    a.bus.publish({ type: "mailboxes.changed" });
    await until("the event on both nodes", () => a.heard.length === 1 && b.heard.length === 1);
    expect(b.heard[0]).toEqual(a.heard[0]);
    expect(a.heard[0]!.event).toEqual({ type: "mailboxes.changed" });
    expect(a.heard[0]!.id).toMatch(/^a-/);

    // many at once, from both nodes
    const sent = Array.from({ length: 40 }, (_, i) => `m${i}`);
    sent.forEach((m, i) => (i % 2 ? b : a).bus.publish(status("mb", m)));
    await until("every event on both nodes", () => messagesOf(a, "mb").length === sent.length && messagesOf(b, "mb").length === sent.length);
    expect(b.heard.map((s) => s.id)).toEqual(a.heard.map((s) => s.id));
    expect(b.heard).toEqual(a.heard);
    expect(new Set(a.heard.map((s) => s.id)).size).toBe(a.heard.length);
    expect([...messagesOf(a, "mb")].sort()).toEqual([...sent].sort());
    // the ids are the same everywhere, so a client can catch up on either node from an id it got on the other
    const firstId = a.heard[1]!.id;
    expect(b.bus.since(firstId)).toEqual(a.bus.since(firstId));
    expect(a.bus.since(firstId)).toHaveLength(sent.length - 1);
  });

  it("delivers one node's events in the order it published them, on every node", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    const sent = Array.from({ length: 300 }, (_, i) => `s${i}`);
    for (const m of sent) a.bus.publish(status("ordered", m));
    await until("every event on both nodes", () => messagesOf(a, "ordered").length === sent.length && messagesOf(b, "ordered").length === sent.length);
    expect(messagesOf(a, "ordered")).toEqual(sent);
    expect(messagesOf(b, "ordered")).toEqual(sent);
  });

  it("splits by bytes, not characters, and gives the parts ids no later event can have", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    // 40 items of 100 three-byte characters: about 4,500 characters but 12,000 bytes, over NOTIFY's limit
    const items = Array.from({ length: 40 }, (_, i) => ({ subscriptionId: `sub-${i}`, clientState: "€".repeat(100) }));
    a.bus.publish({ type: "graph.notifications", kind: "changes", items });
    // then enough events that a counter in base 36 passes the digits a part's suffix could be mistaken for
    for (let i = 0; i < 60; i++) a.bus.publish(status("after", `n${i}`));
    await until("all of it on both nodes", () => messagesOf(b, "after").length === 60);
    const parts = b.heard.filter((h) => h.event.type === "graph.notifications");
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.flatMap((p) => (p.event.type === "graph.notifications" ? p.event.items.map((x) => x.subscriptionId) : []))).toEqual(items.map((x) => x.subscriptionId));
    const ids = b.heard.map((h) => h.id);
    expect(new Set(ids).size).toBe(ids.length);
    // catching up from the first part gives the rest of the parts and the 60 after them, nothing more
    expect(b.bus.since(parts[0]!.id)).toHaveLength(parts.length - 1 + 60);
  });

  it("delivers the events of statements() run in a transaction when it commits, and never when it rolls back", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    const committed: MailroomEvent = { type: "interaction.created", mailboxId: "committed", interactionIds: ["i-1"] };
    await t.db.kysely.transaction().execute(async (trx) => {
      await executeStatements(trx, a.feed.statements(committed));
      // a marker committed after the notify ran, but before this transaction commits, overtakes it
      await flush(b, "during");
      for (const n of nodes) expect(n.heard.some((s) => s.event.type === "interaction.created")).toBe(false);
    });
    await until("the committed event on both nodes", () => nodes.every((n) => n.heard.some((s) => s.event.type === "interaction.created")));
    for (const n of nodes) {
      const created = n.heard.filter((s) => s.event.type === "interaction.created");
      expect(created.map((s) => s.event)).toEqual([committed]);
      // after the marker: in commit order
      expect(n.heard.findIndex((s) => s.event.type === "interaction.created")).toBeGreaterThan(
        n.heard.findIndex((s) => s.event.type === "mailbox.status" && s.event.message === "during"),
      );
    }
    expect(b.heard.find((s) => s.event.type === "interaction.created")!.id).toBe(a.heard.find((s) => s.event.type === "interaction.created")!.id);

    const rolledBack = new Error("rolled back on purpose");
    await expect(
      t.db.kysely.transaction().execute(async (trx) => {
        await executeStatements(trx, a.feed.statements({ type: "interaction.created", mailboxId: "rolled-back", interactionIds: ["i-2"] }));
        throw rolledBack;
      }),
    ).rejects.toBe(rolledBack);
    // a marker after the rollback: had the rolled-back event been sent, it would have arrived before it
    await flush(a, "after rollback");
    for (const n of nodes) {
      expect(n.heard.filter((s) => s.event.type === "interaction.created").map((s) => s.event)).toEqual([committed]);
    }
  });

  it("splits an interaction.created too long for one NOTIFY into several events that together carry every id", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    const interactionIds = Array.from({ length: 2000 }, () => newId());
    expect(JSON.stringify(interactionIds).length).toBeGreaterThan(8000);
    const createdOn = (n: FeedNode, mailboxId: string) =>
      n.heard.filter((s): s is StampedEvent & { event: Extract<MailroomEvent, { type: "interaction.created" }> } => s.event.type === "interaction.created" && s.event.mailboxId === mailboxId);
    const idsOn = (n: FeedNode, mailboxId: string) => createdOn(n, mailboxId).flatMap((s) => s.event.interactionIds);

    // published from a node (outside a transaction) and announced by a transaction
    a.bus.publish({ type: "interaction.created", mailboxId: "published", interactionIds });
    await t.db.kysely.transaction().execute(async (trx) => {
      await executeStatements(trx, b.feed.statements({ type: "interaction.created", mailboxId: "in-transaction", interactionIds }));
    });
    for (const mailboxId of ["published", "in-transaction"]) {
      await until(`all ${interactionIds.length} ids (${mailboxId}) on both nodes`, () => nodes.every((n) => idsOn(n, mailboxId).length >= interactionIds.length));
      for (const n of nodes) {
        const parts = createdOn(n, mailboxId);
        expect(parts.length).toBeGreaterThan(1);
        // every id once, none lost, none twice
        expect([...idsOn(n, mailboxId)].sort()).toEqual([...interactionIds].sort());
        expect(new Set(parts.map((s) => s.id)).size).toBe(parts.length);
        for (const part of parts) expect(Buffer.byteLength(JSON.stringify(part))).toBeLessThan(8000);
      }
      expect(createdOn(b, mailboxId).map((s) => s.id)).toEqual(createdOn(a, mailboxId).map((s) => s.id));
    }
  });

  it("announces resync on a node whose LISTEN connection was killed, and hears later events again", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    const resyncs = (n: FeedNode) => n.heard.filter((s) => s.event.type === "resync").length;
    await flush(a, "before");

    const { rows } = await sql<{ killed: boolean }>`select pg_terminate_backend(${a.listenPid}) as killed`.execute(t.db.kysely);
    expect(rows[0]?.killed).toBe(true);
    await until("resync on node a", () => resyncs(a) === 1);
    // the new connection listens before resync is announced: events from either node arrive again
    await flush(b, "after, from b");
    await flush(a, "after, from a");
    expect(resyncs(a)).toBe(1);
    // node b's connection was never broken: it has nothing to read afresh
    expect(resyncs(b)).toBe(0);
    const reconnected = (await listenPids()).filter((pid) => pid !== b.listenPid);
    expect(reconnected).toHaveLength(1);
    expect(reconnected[0]).not.toBe(a.listenPid);

    // both at once (the two nodes' connections share one application_name)
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'mailroom events' and datname = current_database()`.execute(t.db.kysely);
    await until("resync on both nodes", () => resyncs(a) === 2 && resyncs(b) === 1);
    await flush(b, "after both");
    // resync is each node's own news: never kept among the events a client catches up on
    const before = a.heard.find((s) => s.event.type === "mailbox.status" && s.event.message === "before")!;
    const caughtUp = a.bus.since(before.id)!;
    expect(caughtUp.map((s) => s.event.type)).toEqual(["mailbox.status", "mailbox.status", "mailbox.status"]);
  });
});
