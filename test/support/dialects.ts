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

/** SQLite always; PostgreSQL too when the run started a private cluster (`npm test`). */
export function testDialects(): Dialect[] {
  return inject("pgUrl") ? ["sqlite", "postgres"] : ["sqlite"];
}

/** A fresh, migrated database of the dialect: a temp SQLite file, or a new PostgreSQL database. */
export async function openTestDb(dialect: Dialect, opts: { migrated?: boolean } = {}): Promise<TestDb> {
  const migrated = opts.migrated ?? true;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-test-"));
  if (dialect === "sqlite") {
    const databaseConfig = { dialect: "sqlite" as const, file: path.join(dataDir, "mailroom.db") };
    const db = openDatabase(databaseConfig);
    if (migrated) await migrate(db);
    return {
      db,
      dialect,
      databaseConfig,
      dataDir,
      async cleanup() {
        await db.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const base = inject("pgUrl");
  if (!base) throw new Error("PostgreSQL is not running in this test run");
  const name = `mr_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = base.replace(/\/postgres$/, `/${name}`);
  const databaseConfig = { dialect: "postgres" as const, url };
  const db = openDatabase(databaseConfig);
  if (migrated) await migrate(db);
  return {
    db,
    dialect,
    databaseConfig,
    dataDir,
    async cleanup() {
      await db.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
