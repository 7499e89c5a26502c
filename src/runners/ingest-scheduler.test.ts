import { describe, expect, it } from "vitest";
import { IngestScheduler } from "./ingest-scheduler.js";

/** A transaction that runs until the test lets it finish. */
function gate(): { done: Promise<void>; open: () => void } {
  let open!: () => void;
  return { done: new Promise<void>((resolve) => (open = resolve)), open };
}

describe("IngestScheduler", () => {
  it("serves a waiting urgent transaction (new mail) before the bulk ones (backlogs) that waited longer", async () => {
    const scheduler = new IngestScheduler({ transactions: 1, bulkTurns: 2 });
    const order: string[] = [];
    const first = gate();
    const running = scheduler.transaction("bulk", async () => {
      order.push("bulk 0");
      await first.done;
    });
    const waiting = [1, 2, 3].map((i) => scheduler.transaction("bulk", async () => void order.push(`bulk ${i}`)));
    const urgent = scheduler.transaction("urgent", async () => void order.push("urgent"));
    first.open();
    await Promise.all([running, ...waiting, urgent]);
    expect(order).toEqual(["bulk 0", "urgent", "bulk 1", "bulk 2", "bulk 3"]);
  });

  it("lets backlogs take turns in the order they asked, so no mailbox's backlog starves another's", async () => {
    const scheduler = new IngestScheduler({ transactions: 4, bulkTurns: 1 });
    const order: string[] = [];
    const releaseA1 = await scheduler.bulkTurn();
    const b1 = scheduler.bulkTurn().then((release) => (order.push("B1"), release));
    const a2 = scheduler.bulkTurn().then((release) => (order.push("A2"), release));
    releaseA1();
    (await b1)();
    (await a2)();
    expect(order).toEqual(["B1", "A2"]);
  });

  it("gives a turn back once, however often its release is called", async () => {
    const scheduler = new IngestScheduler({ transactions: 1, bulkTurns: 1 });
    const release = await scheduler.bulkTurn();
    release();
    release();
    const a = await scheduler.bulkTurn();
    let secondGot = false;
    const b = scheduler.bulkTurn().then((r) => ((secondGot = true), r));
    await new Promise((r) => setImmediate(r));
    expect(secondGot).toBe(false);
    a();
    (await b)();
  });

  it("says while syncs that may be new mail run, and wakes who waits when the last one ends, or after the longest wait", async () => {
    const scheduler = new IngestScheduler({ transactions: 1, bulkTurns: 1 });
    expect(scheduler.newMailRunning()).toBe(false);
    await scheduler.newMailDone(60_000);
    const a = scheduler.newMail();
    const b = scheduler.newMail();
    expect(scheduler.newMailRunning()).toBe(true);
    let woken = false;
    const waiting = scheduler.newMailDone(60_000).then(() => (woken = true));
    a();
    a();
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(false);
    expect(scheduler.newMailRunning()).toBe(true);
    b();
    await waiting;
    expect(scheduler.newMailRunning()).toBe(false);
    // new mail that never ends lets a backlog go after the longest wait
    const stuck = scheduler.newMail();
    await scheduler.newMailDone(5);
    expect(scheduler.newMailRunning()).toBe(true);
    stuck();
  });
});
