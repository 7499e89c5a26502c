/**
 * Uniqueness lives in the schema; these helpers turn the driver's violation into something a
 * service can map to a 409. better-sqlite3 and pg report violations differently, hence both shapes.
 */
interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

/**
 * When `err` is a unique violation, what was violated: the constraint or index name on PostgreSQL,
 * the column list or index name on SQLite ("mailboxes.name", "index 'queues_name_lower'"). Else null.
 */
export function uniqueViolation(err: unknown): string | null {
  if (!err || typeof err !== "object") return null;
  const e = err as DriverError;
  if (e.code === "23505") return typeof e.constraint === "string" ? e.constraint : "";
  if (e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    return typeof e.message === "string" ? e.message.replace(/^UNIQUE constraint failed: /, "") : "";
  }
  return null;
}

export function isForeignKeyViolation(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const code = (err as DriverError).code;
  return code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY";
}

const sqliteDataCodes = new Set(["SQLITE_CONSTRAINT_CHECK", "SQLITE_CONSTRAINT_NOTNULL", "SQLITE_CONSTRAINT_TRIGGER", "SQLITE_TOOBIG", "SQLITE_MISMATCH"]);

/**
 * True when the database refused the values it was given (too long for an index, a character it does
 * not store, a check or trigger) rather than being unavailable, locked or out of space: storing the same
 * thing again fails again, storing something else works. Unique and foreign-key violations are not
 * counted: they come from concurrent changes, and the retry sees them resolved.
 */
export function isDataError(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const code = (err as DriverError).code;
  if (typeof code !== "string") return false;
  if (code === "23505" || code === "23503") return false;
  if (/^(22|23|54)[0-9A-Z]{3}$/.test(code)) return true;
  return sqliteDataCodes.has(code);
}
