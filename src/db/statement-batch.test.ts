import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { uniqueViolation } from "./constraint-errors.js";
import { executeReadings, executeStatements } from "./statement-batch.js";
import { openTestDb, testDialects } from "../../test/support/dialects.js";

const now = new Date().toISOString();
const queue = (id: string, name = id) => ({ id, name, created_at: now });

describe.each(testDialects())("statement batches (%s)", (dialect) => {
  it("runs the statements in order, each with its own result, and readings get their own rows back", async () => {
    const t = await openTestDb(dialect);
    try {
      const k = t.db.kysely;
      await k.transaction().execute(async (trx) => {
        const results = await executeStatements(trx, [
          trx.insertInto("queues").values([queue("q1"), queue("q2")]),
          // sees the rows the statement before it wrote
          trx.selectFrom("queues").select("id").orderBy("id"),
          trx.updateTable("queues").set({ name: "renamed" }).where("id", "=", "q2"),
        ]);
        expect(results.map((r) => Number(r.numAffectedRows ?? -1))).toEqual([2, -1, 1]);
        expect(results[1]!.rows).toEqual([{ id: "q1" }, { id: "q2" }]);
        const [names, count] = await executeReadings(trx, [
          { statements: [trx.selectFrom("queues").select("name").where("id", "=", "q1"), trx.selectFrom("queues").select("name").where("id", "=", "q2")], result: (rs) => rs.flatMap((r) => r.rows as { name: string }[]).map((r) => r.name) },
          { statements: [trx.selectFrom("queues").select((eb) => eb.fn.countAll<number>().as("n"))], result: (rs) => Number((rs[0]!.rows[0] as { n: number }).n) },
        ]);
        expect(names).toEqual(["q1", "renamed"]);
        expect(count).toBe(2);
      });
      expect(await k.selectFrom("queues").select("name").orderBy("id").execute()).toEqual([{ name: "q1" }, { name: "renamed" }]);
    } finally {
      await t.cleanup();
    }
  });

  it("stops at the statement that fails, with its error, and the transaction takes back what the batch did", async () => {
    const t = await openTestDb(dialect);
    try {
      const k = t.db.kysely;
      await k.insertInto("queues").values(queue("q0", "taken")).execute();
      const failed = k.transaction().execute(async (trx) => {
        await executeStatements(trx, [
          trx.insertInto("queues").values(queue("q1")),
          trx.insertInto("queues").values(queue("q2", "taken")),
          trx.insertInto("queues").values(queue("q3")),
        ]);
      });
      const error = await failed.then(() => null, (err: unknown) => err);
      expect(uniqueViolation(error)).not.toBeNull();
      expect(await k.selectFrom("queues").select("id").execute()).toEqual([{ id: "q0" }]);
      // the connection (and on SQLite the one writer) is free again
      await k.transaction().execute((trx) => executeStatements(trx, [trx.insertInto("queues").values(queue("q4"))]));
      expect(await k.selectFrom("queues").select("id").orderBy("id").execute()).toEqual([{ id: "q0" }, { id: "q4" }]);
    } finally {
      await t.cleanup();
    }
  });

  it("commits and rolls back transactions that ran no statement, and ones whose first statement failed", async () => {
    const t = await openTestDb(dialect);
    try {
      const k = t.db.kysely;
      await k.transaction().execute(async () => {});
      await expect(k.transaction().execute(async () => Promise.reject(new Error("before any statement")))).rejects.toThrow("before any statement");
      await expect(k.transaction().execute((trx) => sql`select * from no_such_table`.execute(trx))).rejects.toThrow();
      await k.transaction().execute((trx) => trx.insertInto("queues").values(queue("q1")).execute());
      expect(await k.selectFrom("queues").select("id").execute()).toEqual([{ id: "q1" }]);
    } finally {
      await t.cleanup();
    }
  });

  it("commits a transaction whose last batch says so, and rolls it back whole when a statement of that batch fails", async () => {
    const t = await openTestDb(dialect);
    try {
      const k = t.db.kysely;
      await k.transaction().execute(async (trx) => {
        await executeStatements(trx, [trx.insertInto("queues").values(queue("q1"))]);
        const results = await executeStatements(trx, [trx.insertInto("queues").values(queue("q2")), trx.selectFrom("queues").select("id").orderBy("id")], { last: true });
        expect(results[1]!.rows).toEqual([{ id: "q1" }, { id: "q2" }]);
      });
      expect(await k.selectFrom("queues").select("id").orderBy("id").execute()).toEqual([{ id: "q1" }, { id: "q2" }]);
      const failed = k.transaction().execute(async (trx) => {
        await executeStatements(trx, [trx.insertInto("queues").values(queue("q3"))]);
        await executeStatements(trx, [trx.insertInto("queues").values(queue("q4")), trx.insertInto("queues").values(queue("q1"))], { last: true });
      });
      expect(uniqueViolation(await failed.then(() => null, (err: unknown) => err))).not.toBeNull();
      expect(await k.selectFrom("queues").select("id").orderBy("id").execute()).toEqual([{ id: "q1" }, { id: "q2" }]);
      // the writer is free again, and an empty last batch leaves the commit to the transaction
      await k.transaction().execute(async (trx) => {
        await executeStatements(trx, [trx.insertInto("queues").values(queue("q5"))]);
        await executeStatements(trx, [], { last: true });
      });
      expect(await k.selectFrom("queues").select("id").orderBy("id").execute()).toEqual([{ id: "q1" }, { id: "q2" }, { id: "q5" }]);
    } finally {
      await t.cleanup();
    }
  });

  it.runIf(dialect === "sqlite")("on SQLite, commits with the last batch: a statement after it in the transaction is refused", async () => {
    const t = await openTestDb(dialect);
    try {
      const k = t.db.kysely;
      const late = k.transaction().execute(async (trx) => {
        await executeStatements(trx, [trx.insertInto("queues").values(queue("q1"))], { last: true });
        await trx.insertInto("queues").values(queue("q2")).execute();
      });
      await expect(late).rejects.toThrow("after the transaction's last statements");
      // what the last batch wrote was committed with it, and stays
      expect(await k.selectFrom("queues").select("id").execute()).toEqual([{ id: "q1" }]);
      await k.transaction().execute((trx) => executeStatements(trx, [trx.insertInto("queues").values(queue("q3"))], { last: true }));
      expect(await k.selectFrom("queues").select("id").orderBy("id").execute()).toEqual([{ id: "q1" }, { id: "q3" }]);
    } finally {
      await t.cleanup();
    }
  });

  it("stores bytes exactly and leaves the caller's Buffers as they were (a Buffer of its own, and a view into a larger one)", async () => {
    const t = await openTestDb(dialect);
    try {
      const k = t.db.kysely;
      const own = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
      const slab = Buffer.alloc(64 * 1024, 7);
      const view = slab.subarray(100, 164);
      await k.transaction().execute((trx) =>
        executeStatements(
          trx,
          [
            trx.insertInto("blobs").values([
              { id: "b1", data: own, size: own.length },
              { id: "b2", data: view, size: view.length },
            ]),
          ],
          { last: true },
        ),
      );
      expect(own.length).toBe(70_000);
      expect(own[250]).toBe(250);
      expect(slab.length).toBe(64 * 1024);
      expect(view.length).toBe(64);
      const rows = await k.selectFrom("blobs").select(["id", "data"]).orderBy("id").execute();
      expect(rows.map((r) => Buffer.from(r.data).equals(r.id === "b1" ? own : view))).toEqual([true, true]);
    } finally {
      await t.cleanup();
    }
  });
});
