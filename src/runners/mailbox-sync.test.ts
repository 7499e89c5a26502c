import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import type { MailSession, MailSource } from "../connectors/mail-source.js";
import type { SyncStore } from "../ingest/sync-store.js";
import { MemoryMaildrop } from "../../test/support/memory-source.js";
import { MemorySyncStore, syncOnce } from "../../test/support/memory-sync-store.js";
import type { Lane, SyncScheduler } from "./sync-types.js";

/** What a scheduler says when no other backlog waits and no new mail is being taken. */
const alone = { bulkWaiting: () => false, newMail: () => () => {}, newMailRunning: () => false, newMailDone: async () => {} };

const writes = ["commit", "commitUnstorable", "markAcknowledged", "markRefused", "retire", "recordAttempt", "saveCursor"] as const;

/** The store, its methods `names` passed through `around` (`call` runs the store's own); the others as they are. */
function intercepted(store: MemorySyncStore, names: readonly string[], around: (name: string, args: unknown[], call: () => unknown) => unknown): SyncStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (typeof name !== "string" || !names.includes(name)) return value.bind(target);
      return (...args: unknown[]) => around(name, args, () => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

/** A store that notes each write, and whether it ran inside one of the scheduler's writer slots. */
function watched(store: MemorySyncStore, slot: AsyncLocalStorage<Lane>) {
  const calls: { write: string; lane: Lane | "none" }[] = [];
  const proxy = intercepted(store, writes, (name, _args, call) => {
    calls.push({ write: name, lane: slot.getStore() ?? "none" });
    return call();
  });
  return { store: proxy, calls };
}

/** A mailbox with `count` new messages. */
function backlog(count: number): MemoryMaildrop {
  const drop = new MemoryMaildrop();
  for (let i = 0; i < count; i++) drop.deliver(`From: a@x.example\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`);
  return drop;
}

/** The source, with its sessions' methods replaced by what `override` gives for each. */
function overriding(source: MailSource, override: (session: MailSession) => Partial<MailSession>): MailSource {
  return {
    protocol: source.protocol,
    maildrop: source.maildrop,
    connected: source.connected,
    waitForChange: (ms, signal) => source.waitForChange(ms, signal),
    close: () => source.close(),
    open: async () => {
      const session = await source.open();
      return Object.assign(Object.create(session) as MailSession, override(session));
    },
  };
}

describe("MailboxSync and the scheduler", () => {
  it.each([
    ["new mail", 2, "urgent"],
    ["a backlog", 30, "bulk"],
  ] as const)("writes nothing outside the scheduler's writer slots, bookkeeping after acknowledgements included (%s)", async (_label, count, lane) => {
    const drop = backlog(count);
    const slot = new AsyncLocalStorage<Lane>();
    const scheduler: SyncScheduler = {
      transaction: (l, fn) => slot.run(l, fn),
      bulkTurn: async () => () => {},
      ...alone,
    };
    const { store, calls } = watched(new MemorySyncStore(), slot);
    const { report } = await syncOnce(drop.source(), store, { limits: { maxCount: 10 }, hooks: { scheduler, urgentCount: 5 } });
    expect(report.created).toBe(count);
    expect(report.lane).toBe(lane);
    expect(calls.filter((c) => c.write === "markAcknowledged").length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.lane === "none")).toEqual([]);
    expect(new Set(calls.map((c) => c.lane))).toContain(lane);
  });
});

describe("MailboxSync and the database's round trips", () => {
  it("asks for the cursor and for what is stored but not acknowledged at once, before the listing: new mail waits for the database once there", async () => {
    const drop = new MemoryMaildrop();
    drop.deliver("From: a@x.example\r\nSubject: new\r\n\r\nbody\r\n");
    const order: string[] = [];
    const store = intercepted(new MemorySyncStore(), ["loadCursor", "unacknowledged"], async (name, _args, call) => {
      order.push(`${name} asked`);
      // a round trip: whatever else is asked meanwhile is in flight with it
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`${name} answered`);
      return call();
    });
    const { report } = await syncOnce(drop.source(), store);
    expect(report.created).toBe(1);
    expect(order).toEqual(["loadCursor asked", "unacknowledged asked", "loadCursor answered", "unacknowledged answered"]);
  });

  it("asks the server for the sizes of a few new messages while it looks their keys up, not after", async () => {
    const drop = backlog(2);
    const order: string[] = [];
    const sizing = overriding(drop.source(), (session) => ({
      sizes: async (keys: string[]) => {
        order.push("sizes asked");
        return session.sizes(keys);
      },
    }));
    const store = intercepted(new MemorySyncStore(), ["lookup"], async (name, _args, call) => {
      order.push(`${name} asked`);
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`${name} answered`);
      return call();
    });
    const { report } = await syncOnce(sizing, store, { hooks: { urgentCount: 5 } });
    expect(report.created).toBe(2);
    expect(order).toEqual(["sizes asked", "lookup asked", "lookup answered"]);
  });

  it("does not read the database before the listing when it resumes where the sync before it on the connection ended", async () => {
    const drop = backlog(3);
    const memory = new MemorySyncStore();
    const first = await syncOnce(drop.source(), memory);
    expect(first.resume).toEqual({ cursor: null });
    drop.deliver("From: a@x.example\r\nSubject: later\r\n\r\nbody\r\n");
    const reads: string[] = [];
    const store = intercepted(memory, ["loadCursor", "unacknowledged", "liveKeys"], (name, _args, call) => {
      reads.push(name);
      return call();
    });
    const second = await syncOnce(drop.source(), store, { firstOnConnection: false, resume: first.resume });
    expect(second.report).toMatchObject({ created: 1, alreadyStored: 0 });
    expect(drop.acknowledged).toHaveLength(4);
    expect(reads).toEqual([]);
    expect(second.resume).toEqual({ cursor: null });
  });

  it("offers no resume when it leaves a stored message unacknowledged: the next sync reads what is", async () => {
    const drop = backlog(2);
    // a server that takes the acknowledgements but never confirms them (a POP3 QUIT that was not answered)
    const unconfirmed = overriding(drop.source(), () => ({
      acknowledge: async (keys: string[]) => ({ done: [], pending: keys, refused: null }),
      finish: async () => [],
    }));
    const memory = new MemorySyncStore();
    const first = await syncOnce(unconfirmed, memory);
    expect(first.report.created).toBe(2);
    expect(first.resume).toBeNull();
    expect((await memory.unacknowledged(false)).map((r) => r.key)).toHaveLength(2);
  });
});

describe("MailboxSync and backlogs' turns", () => {
  it("reads a backlog's windows (lookup and sizes) only in a turn, so twenty backlogs starting at once do not all read at once", async () => {
    const drop = backlog(12);
    let turnHeld = true;
    let grant!: () => void;
    const granted = new Promise<void>((resolve) => (grant = resolve));
    let asked!: () => void;
    const turnAsked = new Promise<void>((resolve) => (asked = resolve));
    const slot = new AsyncLocalStorage<Lane>();
    const scheduler: SyncScheduler = {
      transaction: (l, fn) => slot.run(l, fn),
      // another backlog holds the one turn until the test lets it go
      bulkTurn: async () => {
        asked();
        if (turnHeld) await granted;
        return () => {};
      },
      ...alone,
    };
    const inner = new MemorySyncStore();
    const lookups: boolean[] = [];
    const store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== "function") return value;
        if (name !== "lookup") return value.bind(target);
        return (...args: unknown[]) => {
          lookups.push(turnHeld);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const running = syncOnce(drop.source(), store, { limits: { window: 5, maxCount: 5 }, hooks: { scheduler, urgentCount: 5 } });
    // the sync has listed and asks for its turn: nothing of the backlog is looked up yet
    await turnAsked;
    expect(lookups).toEqual([]);
    turnHeld = false;
    grant();
    const { report } = await running;
    expect(report.created).toBe(12);
    expect(report.lane).toBe("bulk");
    expect(lookups).toEqual([false, false, false]);
  });
});

describe("MailboxSync's pipeline for a backlog", () => {
  /** A store that notes lookups and commits in the order they happen. */
  function noting(inner: MemorySyncStore) {
    const events: string[] = [];
    const store = intercepted(inner, ["lookup", "commit"], async (name, args, call) => {
      const result = await call();
      events.push(name === "lookup" ? `lookup ${(args[0] as string[]).length}` : "commit");
      return result;
    });
    return { store, events };
  }

  it.each([
    ["nobody waits", false, 1],
    // 30 batches in stints of 8
    ["another backlog waits", true, 4],
  ] as const)("holds one turn while %s, and gives it up after each stint otherwise", async (_label, othersWait, turns) => {
    let asked = 0;
    let held = 0;
    let most = 0;
    const scheduler: SyncScheduler = {
      transaction: (_l, fn) => fn(),
      bulkTurn: async () => {
        asked++;
        most = Math.max(most, ++held);
        return () => void held--;
      },
      ...alone,
      bulkWaiting: () => othersWait,
    };
    const { report } = await syncOnce(backlog(60).source(), new MemorySyncStore(), { limits: { window: 10, maxCount: 2 }, hooks: { scheduler, urgentCount: 1 } });
    expect(report.created).toBe(60);
    expect(report.lane).toBe("bulk");
    expect(asked).toBe(turns);
    expect(most).toBe(1);
    expect(held).toBe(0);
  });

  it("looks up the next window while the batches of the one before are still being stored, from a small window up to the full one", async () => {
    const { store, events } = noting(new MemorySyncStore());
    const { report } = await syncOnce(backlog(45).source(), store, { limits: { window: 20, maxCount: 2, prefetch: 1 } });
    expect(report.created).toBe(45);
    // the first window is (prefetch + 2) batches, each next one twice as large up to the window
    const lookups = events.filter((e) => e.startsWith("lookup"));
    expect(lookups).toEqual(["lookup 6", "lookup 12", "lookup 20", "lookup 7"]);
    // each is looked up before the window before it is all stored: windows of 3, 6 and 10 batches
    const commitsBefore = (n: number) => events.slice(0, events.indexOf(lookups[n]!)).filter((e) => e === "commit").length;
    expect(commitsBefore(1)).toBeLessThan(3);
    expect(commitsBefore(2)).toBeLessThan(3 + 6);
    expect(commitsBefore(3)).toBeLessThan(3 + 6 + 10);
  });
});

describe("MailboxSync and new mail of other mailboxes", () => {
  it("holds a backlog's next fetches and commits while new mail is being taken, once a stint at most", async () => {
    let newMailRuns = true;
    let pauses = 0;
    let letGo!: () => void;
    const paused = new Promise<void>((resolve) => (letGo = resolve));
    let pausedAt = -1;
    let signal!: () => void;
    const pausing = new Promise<string>((resolve) => (signal = () => resolve("paused")));
    const inner = new MemorySyncStore();
    const scheduler: SyncScheduler = {
      transaction: (_l, fn) => fn(),
      bulkTurn: async () => () => {},
      ...alone,
      newMailRunning: () => newMailRuns,
      newMailDone: async () => {
        pauses++;
        if (pauses === 1) {
          pausedAt = inner.commits.length;
          signal();
          await paused;
        }
      },
    };
    const running = syncOnce(backlog(40).source(), inner, { limits: { window: 10, maxCount: 2 }, hooks: { scheduler, urgentCount: 1 } });
    expect(await Promise.race([pausing, running.then(() => "done without holding back")])).toBe("paused");
    // nothing is stored while new mail is taken
    await new Promise((r) => setTimeout(r, 20));
    expect(inner.commits.length).toBe(pausedAt);
    newMailRuns = false;
    letGo();
    const { report } = await running;
    expect(report.created).toBe(40);
    expect(pauses).toBe(1);

    // new mail that never ends does not stop a backlog: it holds back once a stint (20 batches: 3 stints)
    newMailRuns = true;
    pauses = 0;
    const again = await syncOnce(backlog(40).source(), new MemorySyncStore(), { limits: { window: 10, maxCount: 2 }, hooks: { scheduler, urgentCount: 1 } });
    expect(again.report.created).toBe(40);
    expect(pauses).toBe(3);
  });

  it("holds back once in every turn, also in a turn taken again after another backlog's", async () => {
    let turns = 0;
    let pauses = 0;
    const scheduler: SyncScheduler = {
      transaction: (_l, fn) => fn(),
      bulkTurn: async () => (turns++, () => {}),
      ...alone,
      // another backlog always waits, and new mail never stops
      bulkWaiting: () => true,
      newMailRunning: () => true,
      newMailDone: async () => void pauses++,
    };
    const { report } = await syncOnce(backlog(40).source(), new MemorySyncStore(), { limits: { window: 10, maxCount: 2 }, hooks: { scheduler, urgentCount: 1 } });
    expect(report.created).toBe(40);
    // 20 batches in stints of 8: three turns, and a hold-back in each
    expect(turns).toBe(3);
    expect(pauses).toBe(3);
  });

  it("counts a sync as new mail until its listing shows a backlog, and an urgent one until it ends", async () => {
    const events: string[] = [];
    const scheduler: SyncScheduler = {
      transaction: (_l, fn) => fn(),
      bulkTurn: async () => (events.push("turn"), () => {}),
      ...alone,
      newMail: () => {
        events.push("new mail");
        return () => events.push("new mail ends");
      },
    };
    const store = new MemorySyncStore();
    await syncOnce(backlog(30).source(), store, { limits: { window: 10, maxCount: 2 }, hooks: { scheduler, urgentCount: 1 } });
    expect(events.slice(0, 3)).toEqual(["new mail", "new mail ends", "turn"]);
    events.length = 0;
    const drop = backlog(1);
    await syncOnce(drop.source(), new MemorySyncStore(), { limits: { window: 10, maxCount: 2 }, hooks: { scheduler, urgentCount: 5 } });
    expect(events).toEqual(["new mail", "new mail ends"]);
  });
});
