import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import type { SyncStore } from "../ingest/sync-store.js";
import { MemoryMaildrop } from "../../test/support/memory-source.js";
import { MemorySyncStore, syncOnce } from "../../test/support/memory-sync-store.js";
import type { Lane, SyncScheduler } from "./sync-types.js";

const writes = ["commit", "commitUnstorable", "markAcknowledged", "markRefused", "retire", "recordAttempt", "saveCursor"] as const;

/** A store that notes each write, and whether it ran inside one of the scheduler's writer slots. */
function watched(store: MemorySyncStore, slot: AsyncLocalStorage<Lane>) {
  const calls: { write: string; lane: Lane | "none" }[] = [];
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (!(writes as readonly (string | symbol)[]).includes(name)) return value.bind(target);
      return (...args: unknown[]) => {
        calls.push({ write: String(name), lane: slot.getStore() ?? "none" });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy as SyncStore, calls };
}

describe("MailboxSync and the scheduler", () => {
  it.each([
    ["new mail", 2, "urgent"],
    ["a backlog", 30, "bulk"],
  ] as const)("writes nothing outside the scheduler's writer slots, bookkeeping after acknowledgements included (%s)", async (_label, count, lane) => {
    const drop = new MemoryMaildrop();
    for (let i = 0; i < count; i++) drop.deliver(`From: a@x.example\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`);
    const slot = new AsyncLocalStorage<Lane>();
    const scheduler: SyncScheduler = {
      transaction: (l, fn) => slot.run(l, fn),
      bulkTurn: async () => () => {},
      bulkWaiting: () => false,
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

describe("MailboxSync and backlogs' turns", () => {
  it("reads a backlog's windows (lookup and sizes) only in a turn, so twenty backlogs starting at once do not all read at once", async () => {
    const drop = new MemoryMaildrop();
    for (let i = 0; i < 12; i++) drop.deliver(`From: a@x.example\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`);
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
      bulkWaiting: () => false,
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
    const store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== "function") return value;
        if (name !== "lookup" && name !== "commit") return value.bind(target);
        return async (...args: unknown[]) => {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          events.push(name === "lookup" ? `lookup ${(args[0] as string[]).length}` : "commit");
          return result;
        };
      },
    });
    return { store: store as SyncStore, events };
  }

  function backlog(count: number): MemoryMaildrop {
    const drop = new MemoryMaildrop();
    for (let i = 0; i < count; i++) drop.deliver(`From: a@x.example\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`);
    return drop;
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
