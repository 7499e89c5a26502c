import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MailSourceError, type MailSession, type MailSource } from "../../src/connectors/mail-source.js";
import { MemorySyncStore, syncOnce } from "./memory-sync-store.js";
import { testMessage } from "./mail-fixtures.js";

/** One mailbox on a real server, as the contract suite needs it. */
export interface ContractMailbox {
  /** a new source for this mailbox (a runner makes one per connection) */
  source(): MailSource;
  deliver(raw: string | Buffer): Promise<void>;
  /** the raw bytes of the messages the server still holds unacknowledged (IMAP: not \Seen; POP3: not deleted) */
  unacknowledged(): Promise<Buffer[]>;
  /** from now on the server refuses to hand over the message whose bytes contain `marker` */
  refuseFetchOf(marker: string): Promise<void>;
}

export interface ContractPeer {
  newMailbox(): Promise<ContractMailbox>;
  stop(): Promise<void>;
}

const texts = (raws: (Buffer | string)[]) => raws.map((r) => (typeof r === "string" ? Buffer.from(r) : r).toString("latin1")).sort();

/**
 * What every connector must do, run through the one sync loop all connectors share
 * (runners/mailbox-sync.ts): IMAP and POP3 today, Microsoft Graph and EWS next. The store side is the
 * in-memory one, which the database store's own tests match.
 */
export function describeMailSourceContract(name: string, setup: () => Promise<ContractPeer>): void {
  describe(`${name}: the mail source contract`, () => {
    let peer: ContractPeer;
    const sources: MailSource[] = [];
    /** every key any session was asked to fetch, as often as it was asked */
    const requested: string[] = [];
    const open = (box: ContractMailbox) => {
      const s = countingFetches(box.source(), requested);
      sources.push(s);
      return s;
    };

    beforeAll(async () => {
      peer = await setup();
    });
    afterAll(async () => {
      await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
      await peer?.stop();
    });

    it("acknowledges a message at the server only after its commit, and keeps its bytes exactly", async () => {
      const box = await peer.newMailbox();
      // 8-bit bytes, a line that starts with a dot, a long line: what a server or client may be tempted to change
      const raws = [testMessage("one"), testMessage("two", "Grüße\r\n.a line with a dot\r\n..two dots\r\n" + "x".repeat(3000)), testMessage("three")];
      for (const raw of raws) await box.deliver(raw);
      const store = new MemorySyncStore();
      const held = store.holdNextCommit();
      const running = syncOnce(open(box), store);
      await held.reached;
      expect(texts(await box.unacknowledged()), "nothing is acknowledged while the commit runs").toEqual(texts(raws));
      held.release();
      const { report } = await running;

      expect(report).toMatchObject({ fetched: 3, created: 3, acked: 3, skipped: 0 });
      expect(await box.unacknowledged()).toEqual([]);
      expect(texts([...store.stored.values()].map((m) => m.raw))).toEqual(texts(raws));
      expect([...store.stored.values()].every((m) => !m.truncated && m.size === m.raw.length)).toBe(true);
      expect(store.unacked.size).toBe(0);
    });

    it("acknowledges nothing when the commit throws, and takes the same messages exactly once on the next sync", async () => {
      const box = await peer.newMailbox();
      const raws = [testMessage("kept a"), testMessage("kept b")];
      for (const raw of raws) await box.deliver(raw);
      const store = new MemorySyncStore();
      store.failNextCommit(new Error("database is locked"));
      await expect(syncOnce(open(box), store)).rejects.toThrow("database is locked");
      expect(texts(await box.unacknowledged())).toEqual(texts(raws));
      expect(store.stored.size).toBe(0);

      const { report } = await syncOnce(open(box), store);
      expect(report).toMatchObject({ created: 2, acked: 2 });
      expect(await box.unacknowledged()).toEqual([]);
      expect(store.committedMessages()).toHaveLength(2);
    });

    it("repairs a crash between commit and acknowledgement: the next sync acknowledges, storing nothing twice", async () => {
      const box = await peer.newMailbox();
      const raws = [testMessage("crash a"), testMessage("crash b")];
      for (const raw of raws) await box.deliver(raw);
      const store = new MemorySyncStore();
      // the connection dies at the acknowledgement: committed, not acknowledged
      await expect(syncOnce(dyingAtAcknowledge(open(box)), store)).rejects.toThrow(MailSourceError);
      expect(store.stored.size).toBe(2);
      expect(store.unacked.size).toBe(2);
      expect(texts(await box.unacknowledged())).toEqual(texts(raws));

      const { report } = await syncOnce(open(box), store);
      expect(report).toMatchObject({ created: 0, acked: 2 });
      expect(await box.unacknowledged()).toEqual([]);
      expect(store.unacked.size).toBe(0);
      expect(store.committedMessages()).toHaveLength(2);
    });

    it("fetches only the header block of a message over Max size, and acknowledges it like any other", async () => {
      const box = await peer.newMailbox();
      const big = testMessage("too big", "y".repeat(80) + "\r\n".repeat(1) + "z".repeat(40_000));
      const small = testMessage("fits");
      await box.deliver(big);
      await box.deliver(small);
      const store = new MemorySyncStore();
      await syncOnce(open(box), store, { limits: { maxMessageBytes: 10_000 } });

      const stored = [...store.stored.values()];
      const truncated = stored.find((m) => m.truncated)!;
      const headerBlock = big.slice(0, big.indexOf("\r\n\r\n") + 4);
      expect(truncated.raw.toString("latin1")).toBe(headerBlock);
      expect(truncated.size).toBeGreaterThan(40_000);
      expect(stored.find((m) => !m.truncated)!.raw.toString("latin1")).toBe(texts([small])[0]);
      expect(await box.unacknowledged()).toEqual([]);
    });

    it("takes mail that arrives later exactly once, and nothing twice", async () => {
      const box = await peer.newMailbox();
      await box.deliver(testMessage("early"));
      const store = new MemorySyncStore();
      await syncOnce(open(box), store);
      await box.deliver(testMessage("late"));
      const second = await syncOnce(open(box), store);
      const third = await syncOnce(open(box), store);
      expect(second.report.created).toBe(1);
      expect(third.report).toMatchObject({ fetched: 0, created: 0 });
      expect(texts(store.committedMessages().map((m) => m.raw)).map((t) => /Subject: (\w+)/.exec(t)![1])).toEqual(["early", "late"]);
    });

    it("sets aside a message the server will not hand over, never acknowledges it, and takes the others", async () => {
      const box = await peer.newMailbox();
      const before = testMessage("before poison");
      const poison = testMessage("poison", "POISON-MARKER");
      const after = testMessage("after poison");
      for (const raw of [before, poison, after]) await box.deliver(raw);
      await box.refuseFetchOf("POISON-MARKER");
      const store = new MemorySyncStore();
      requested.length = 0;

      const { report, warnings } = await syncOnce(open(box), store);
      expect(report).toMatchObject({ created: 2, skipped: 1 });
      expect(texts([...store.stored.values()].map((m) => m.raw))).toEqual(texts([after, before]));
      expect(texts(await box.unacknowledged())).toEqual(texts([poison]));
      expect(store.skipped).toHaveLength(1);
      expect(warnings.map((w) => w.code)).toEqual(["message_skipped"]);
      // bounded: the first batch, then a few tries alone
      const poisonKey = store.skipped[0]!.key;
      const tries = requested.filter((k) => k === poisonKey).length;
      expect(tries).toBeGreaterThan(1);
      expect(tries).toBeLessThanOrEqual(5);

      await box.deliver(testMessage("later"));
      const next = await syncOnce(open(box), store);
      expect(next.report).toMatchObject({ created: 1, skipped: 0 });
      expect(requested.filter((k) => k === poisonKey).length, "a message set aside is not asked for again").toBe(tries);
      expect(texts(await box.unacknowledged())).toEqual(texts([poison]));
    });

    it("stores a message the database refuses as a wrapped interaction, and the others as they are", async () => {
      const box = await peer.newMailbox();
      const raws = [testMessage("fine 1"), testMessage("refused", "DB-POISON"), testMessage("fine 2"), testMessage("fine 3")];
      for (const raw of raws) await box.deliver(raw);
      const store = new MemorySyncStore();
      store.poison = "DB-POISON";

      const { report, warnings } = await syncOnce(open(box), store);
      expect(report).toMatchObject({ created: 4, unstorable: 1 });
      expect(store.wrapped.map((w) => store.stored.get(w.key)!.raw.toString("latin1"))).toEqual(texts([raws[1]!]));
      expect(warnings.map((w) => w.code)).toEqual(["message_unstorable"]);
      expect(await box.unacknowledged()).toEqual([]);
    });
  });
}

/** A source that records every key its sessions are asked to fetch. */
function countingFetches(source: MailSource, requested: string[]): MailSource {
  return wrapSessions(source, (session) => ({
    ...sessionOf(session),
    fetch: (requests) => {
      requested.push(...requests.map((r) => r.key));
      return session.fetch(requests);
    },
  }));
}

/** A source whose sessions lose their connection when they acknowledge: the commit went through, the acknowledgement did not. */
function dyingAtAcknowledge(source: MailSource): MailSource {
  return wrapSessions(source, (session) => ({
    ...sessionOf(session),
    acknowledge: async () => {
      await source.close();
      throw new MailSourceError("closed", "The connection was lost (test).");
    },
  }));
}

function sessionOf(session: MailSession): MailSession {
  return {
    traits: session.traits,
    list: (c) => session.list(c),
    sizes: (k) => session.sizes(k),
    fetch: (r) => session.fetch(r),
    acknowledge: (k) => session.acknowledge(k),
    finish: () => session.finish(),
  };
}

function wrapSessions(source: MailSource, wrap: (session: MailSession) => MailSession): MailSource {
  return {
    protocol: source.protocol,
    maildrop: source.maildrop,
    get connected() {
      return source.connected;
    },
    open: async () => wrap(await source.open()),
    waitForChange: (ms, signal) => source.waitForChange(ms, signal),
    close: () => source.close(),
  };
}
