import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import type { Config } from "../config.js";
import type { Database } from "./schema.js";
import { migrations } from "./migrations/index.js";

export type Dialect = "sqlite" | "postgres";

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

// bigint columns (last_uid, counts) come back as strings from pg by default; they fit a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function openDatabase(database: Config["database"]): Db {
  if (database.dialect === "postgres") {
    const pool = new pg.Pool({ connectionString: database.url, max: 10 });
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { kysely, dialect: "postgres", close: () => kysely.destroy() };
  }
  fs.mkdirSync(path.dirname(database.file), { recursive: true });
  const sqlite = new BetterSqlite3(database.file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { kysely, dialect: "sqlite", close: () => kysely.destroy() };
}

/** Applies every migration not yet applied, each in its own transaction. Returns the names applied. */
export async function migrate(db: Db): Promise<string[]> {
  const k = db.kysely as unknown as Kysely<{ mailroom_migrations: { name: string; applied_at: string } }>;
  await k.schema
    .createTable("mailroom_migrations")
    .ifNotExists()
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("applied_at", "text", (c) => c.notNull())
    .execute();
  const applied = new Set((await k.selectFrom("mailroom_migrations").select("name").execute()).map((r) => r.name));
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.name)) continue;
    await k.transaction().execute(async (trx) => {
      if (db.dialect === "postgres") {
        // several nodes may start at once: one migrates, the others wait and then find it done
        await sql`select pg_advisory_xact_lock(802501)`.execute(trx);
        const again = await trx.selectFrom("mailroom_migrations").select("name").where("name", "=", m.name).executeTakeFirst();
        if (again) return;
      }
      await m.up(trx as unknown as Kysely<unknown>, db.dialect);
      await trx.insertInto("mailroom_migrations").values({ name: m.name, applied_at: new Date().toISOString() }).execute();
      done.push(m.name);
    });
  }
  return done;
}
