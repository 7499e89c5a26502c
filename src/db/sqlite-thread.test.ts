import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Kysely, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { threadedSqliteDialect } from "./sqlite-thread.js";

interface BlobsDb {
  t: { id: number; data: Buffer };
}

const opened: { kysely: Kysely<BlobsDb>; dir: string }[] = [];

async function open(checkpointDelayMs: number): Promise<{ kysely: Kysely<BlobsDb>; file: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-sqlite-"));
  const file = path.join(dir, "test.db");
  // Mailroom's own settings (database.ts)
  const pragmas = ["journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON", "busy_timeout = 5000"];
  const kysely = new Kysely<BlobsDb>({ dialect: threadedSqliteDialect({ file, pragmas, checkpointDelayMs }) });
  opened.push({ kysely, dir });
  await kysely.schema.createTable("t").addColumn("id", "integer", (c) => c.primaryKey()).addColumn("data", "blob", (c) => c.notNull()).execute();
  return { kysely, file };
}

/** 8 transactions of 1 MB: twice the 1,000 pages (4 MB) past which SQLite's commits checkpoint by default. */
async function write8Mb(kysely: Kysely<BlobsDb>): Promise<void> {
  for (let i = 0; i < 8; i++) {
    await kysely.transaction().execute(async (trx) => {
      for (let j = 0; j < 4; j++) await trx.insertInto("t").values({ id: i * 4 + j, data: Buffer.alloc(256 * 1024, i + j) }).execute();
    });
  }
}

const size = (file: string) => (fs.existsSync(file) ? fs.statSync(file).size : 0);

afterEach(async () => {
  for (const { kysely, dir } of opened.splice(0)) {
    await kysely.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("the WAL of the threaded SQLite driver", () => {
  it("is not copied into the database by the commits: they leave that to the checkpointer", async () => {
    // a checkpointer that waits longer than the test: whatever reaches the database file, a commit copied there
    const { kysely, file } = await open(600_000);
    const before = size(file);
    await write8Mb(kysely);
    expect(size(`${file}-wal`), "bytes in the WAL").toBeGreaterThan(8 * 1024 * 1024);
    expect(size(file), "bytes in the database file").toBe(before);
  });

  it("is checkpointed on a connection of its own after commits, with no further write", async () => {
    const { kysely, file } = await open(10);
    await write8Mb(kysely);
    // bound by progress: the test's own timeout ends a checkpointer that never comes
    while (size(file) < 8 * 1024 * 1024) await new Promise((r) => setTimeout(r, 20));
    const rows = await sql<{ n: number; bytes: number }>`select count(*) as n, sum(length(data)) as bytes from t`.execute(kysely);
    expect(rows.rows[0]).toEqual({ n: 32, bytes: 8 * 1024 * 1024 });
  });

  it("is gone, and the data in the database file, once the database is closed", async () => {
    const { kysely, file } = await open(600_000);
    await write8Mb(kysely);
    const { dir } = opened.pop()!;
    try {
      await kysely.destroy();
      expect(fs.existsSync(`${file}-wal`), "the WAL file after closing").toBe(false);
      expect(size(file), "bytes in the database file").toBeGreaterThan(8 * 1024 * 1024);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
