/** What crosses between the server and the thread that owns the SQLite connection. */

export interface SqliteThreadOptions {
  file: string;
  /** run once, in order, when the connection opens */
  pragmas: string[];
  /** a connection that only reads (WAL lets it read the last committed state while a write runs) */
  readonly?: boolean;
}

export interface SqliteRequest {
  id: number;
  sql: string;
  parameters: readonly unknown[];
}

export type SqliteReply =
  | { id: number; rows: Record<string, unknown>[]; changes?: number; lastInsertRowid?: number }
  | { id: number; error: { message: string; code: string | undefined; name: string } };
