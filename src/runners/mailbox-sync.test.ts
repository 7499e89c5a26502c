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
