import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { inject } from "vitest";
import { migrate, openDatabase, type Db, type Dialect } from "../../src/db/database.js";

export interface TestDb {
  db: Db;
  dialect: Dialect;
  /** for a second process or node: the same database */
  databaseConfig: { dialect: "sqlite"; file: string } | { dialect: "postgres"; url: string };
  dataDir: string;
  cleanup(): Promise<void>;
}

/**
 * Both dialects in `npm test` (the `all` project), whose global setup starts a private PostgreSQL
 * cluster or fails the run. The `unit` project (`npm run test:unit`, the quick loop of `npm run check`)
 * has no global setup and runs SQLite only: by design, so that loop needs no server.
 */
export function testDialects(): Dialect[] {
  if (!inject("requirePostgres")) return ["sqlite"];
  if (!inject("pgUrl")) {
    throw new Error("This run promises PostgreSQL but its global setup provided no server URL: see test/support/global-setup.ts.");
  }
  return ["sqlite", "postgres"];
}

async function adminQuery(url: string, query: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, migrated database of the dialect: a temp SQLite file, or a new PostgreSQL database on the
 * test run's server, or on `pgUrl` (a server's `…/postgres` URL) outside vitest, e.g. in a benchmark.
 */
export async function openTestDb(dialect: Dialect, opts: { migrated?: boolean; pgUrl?: string } = {}): Promise<TestDb> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-test-"));
  let databaseConfig: TestDb["databaseConfig"];
  let dropDatabase = async () => {};
  if (dialect === "sqlite") {
    databaseConfig = { dialect: "sqlite", file: path.join(dataDir, "mailroom.db") };
  } else {
    const base = opts.pgUrl ?? inject("pgUrl");
    if (!base) throw new Error("PostgreSQL is not running in this test run");
    const name = `mr_${Math.random().toString(36).slice(2, 10)}`;
    await adminQuery(base, `create database ${name}`);
    databaseConfig = { dialect: "postgres", url: base.replace(/\/postgres$/, `/${name}`) };
    dropDatabase = () => adminQuery(base, `drop database if exists ${name} with (force)`);
  }
  const db = openDatabase(databaseConfig);
  if (opts.migrated ?? true) await migrate(db);
  return {
    db,
    dialect,
    databaseConfig,
    dataDir,
    async cleanup() {
      await db.close();
      await dropDatabase();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
