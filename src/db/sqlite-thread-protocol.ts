/** What crosses between the server and the thread that owns the SQLite connection. */

export interface SqliteThreadOptions {
  file: string;
  /** run once, in order, when the connection opens */
  pragmas: string[];
  /** a connection that only reads (WAL lets it read the last committed state while a write runs) */
  readonly?: boolean;
}

export interface SqliteStatement {
  sql: string;
  parameters: readonly unknown[];
}

/** Statements run in order; the first that fails ends the request. */
export interface SqliteRequest {
  id: number;
  statements: SqliteStatement[];
}

export interface SqliteResult {
  rows: Record<string, unknown>[];
  changes?: number;
  lastInsertRowid?: number;
}

export type SqliteReply = { id: number; results: SqliteResult[] } | { id: number; error: { message: string; code: string | undefined; name: string } };
