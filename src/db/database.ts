import fs from "node:fs";
import path from "node:path";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Config } from "../config.js";
import type { Dialect } from "./dialect.js";
import type { Database } from "./schema.js";
import { threadedSqliteDialect } from "./sqlite-thread.js";
import { unrollingStatementBatches } from "./statement-batch.js";
import { migrations } from "./migrations/index.js";

export type { Dialect } from "./dialect.js";

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

// bigint columns (last_uid, counts) come back as strings from pg by default; they fit a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * `opts.idleInTransactionMs` bounds how long a PostgreSQL transaction may sit idle (see below).
 * `onIdleError` hears about pooled PostgreSQL connections that broke while idle (a server restart, an
 * administrator ending sessions). pg drops such a connection and opens a new one for the next query;
 * without a listener the error would end the process.
 */
export function openDatabase(database: Config["database"], onIdleError: (err: Error) => void = () => {}, opts: { idleInTransactionMs?: number } = {}): Db {
  if (database.dialect === "postgres") {
    const pool = new pg.Pool({
      connectionString: database.url,
      // the API's reads share the pool with the runners' statements (bench:nodes measured no change
      // from 10 to 20 in a failover; the runners now start in waves instead)
      max: 20,
      // A transaction left open (a node paused mid-commit) holds its mailbox's lease row locked, and
      // so keeps the other nodes from taking the mailbox over: PostgreSQL ends such a session after
      // this, the node's commit then fails, and the lease can go (mailbox leases, src/cluster).
      idle_in_transaction_session_timeout: opts.idleInTransactionMs ?? 5_000,
    });
    pool.on("error", onIdleError);
    // A connection ended by the server while checked out (the idle-in-transaction timeout below, an
    // administrator) says so outside any query: heard here, it fails that connection's next query
    // instead of ending the process.
    pool.on("connect", (client) => client.on("error", onIdleError));
    const kysely = new Kysely<Database>({ dialect: unrollingStatementBatches(new PostgresDialect({ pool })) });
    return { kysely, dialect: "postgres", close: () => kysely.destroy() };
  }
  // the database holds password hashes and sealed secrets: keep its folder private
  fs.mkdirSync(path.dirname(database.file), { recursive: true, mode: 0o700 });
  const kysely = new Kysely<Database>({
    dialect: threadedSqliteDialect({
      file: database.file,
      pragmas: [
        "journal_mode = WAL",
        // the connector acknowledges (\Seen, DELE) right after COMMIT: the commit must survive a power loss by
        // then, which in WAL mode takes FULL (NORMAL may roll back the last commits); bench:ingest reports the cost
        "synchronous = FULL",
        "foreign_keys = ON",
        "busy_timeout = 5000",
      ],
    }),
  });
  return { kysely, dialect: "sqlite", close: () => kysely.destroy() };
}

/**
 * Applies every migration not yet applied, each in its own transaction. Returns the names applied.
 * Several nodes may start at once: on PostgreSQL an advisory lock lets one migrate while the others
 * wait; on SQLite each transaction writes first, so a second process waits for the lock instead of
 * failing with "database is locked" when it tries to upgrade a read.
 */
export async function migrate(db: Db): Promise<string[]> {
  type MigrationsDb = Kysely<{ mailroom_migrations: { name: string; applied_at: string } }>;
  const done: string[] = [];
  await db.kysely.connection().execute(async (conn) => {
    const k = conn as unknown as MigrationsDb;
    if (db.dialect === "postgres") await sql`select pg_advisory_lock(802501)`.execute(k);
    try {
      await k.schema
        .createTable("mailroom_migrations")
        .ifNotExists()
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("applied_at", "text", (c) => c.notNull())
        .execute();
      for (const m of migrations) {
        await k.transaction().execute(async (trx) => {
          if (db.dialect === "sqlite") await sql`update mailroom_migrations set name = name where 0`.execute(trx);
          const applied = await trx.selectFrom("mailroom_migrations").select("name").where("name", "=", m.name).executeTakeFirst();
          if (applied) return;
          await m.up(trx as unknown as Kysely<unknown>, db.dialect);
          await trx.insertInto("mailroom_migrations").values({ name: m.name, applied_at: new Date().toISOString() }).execute();
          done.push(m.name);
        });
      }
    } finally {
      if (db.dialect === "postgres") await sql`select pg_advisory_unlock(802501)`.execute(k);
    }
  });
  return done;
}
