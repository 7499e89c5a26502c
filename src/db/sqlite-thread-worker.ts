import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import type { SqliteRequest, SqliteReply, SqliteResult, SqliteStatement, SqliteThreadOptions } from "./sqlite-thread-protocol.js";
import { asBuffer } from "../shared/bytes.js";

/**
 * The thread that owns Mailroom's SQLite connection (see sqlite-thread.ts). better-sqlite3 works
 * synchronously: here, a commit that waits for the disk holds this thread, not the server's.
 */

const port = parentPort;
if (!port) throw new Error("the SQLite thread must run as a worker thread");
const options = workerData as SqliteThreadOptions;
const db = new BetterSqlite3(options.file, { readonly: options.readonly ?? false });
for (const pragma of options.pragmas) db.pragma(pragma);

/** Statements Mailroom runs again and again (the API's queries, a batch's inserts) are prepared once. */
const statements = new Map<string, BetterSqlite3.Statement>();
const maxStatements = 300;

function prepared(sql: string): BetterSqlite3.Statement {
  let stmt = statements.get(sql);
  if (stmt) {
    // most recently used last, so the first key is the one to drop
    statements.delete(sql);
  } else {
    stmt = db.prepare(sql);
    if (statements.size >= maxStatements) statements.delete(statements.keys().next().value!);
  }
  statements.set(sql, stmt);
  return stmt;
}

/** Structured cloning turns Buffers into plain Uint8Arrays; better-sqlite3 binds Buffers. */
function toBuffers(values: readonly unknown[]): unknown[] {
  return values.map((v) => (v instanceof Uint8Array ? asBuffer(v) : v));
}

function runOne(statement: SqliteStatement): SqliteResult {
  const stmt = prepared(statement.sql);
  const params = toBuffers(statement.parameters);
  if (stmt.reader) return { rows: stmt.all(params) as Record<string, unknown>[] };
  const { changes, lastInsertRowid } = stmt.run(params);
  return { rows: [], changes, lastInsertRowid: Number(lastInsertRowid) };
}

function run(request: SqliteRequest): SqliteReply {
  try {
    return { id: request.id, results: request.statements.map(runOne) };
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown; name?: unknown };
    return {
      id: request.id,
      error: { message: typeof e.message === "string" ? e.message : String(err), code: typeof e.code === "string" ? e.code : undefined, name: typeof e.name === "string" ? e.name : "Error" },
    };
  }
}

port.on("message", (request: SqliteRequest | { close: true }) => {
  if ("close" in request) {
    db.close();
    port.close();
    return;
  }
  port.postMessage(run(request));
});
port.postMessage({ ready: true });
