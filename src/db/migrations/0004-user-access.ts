import type { Kysely } from "kysely";

/**
 * Users can be disabled (they cannot sign in, and their sessions end) and show when they last signed in.
 * SQLite adds a NOT NULL column only with a default, which fills the existing rows as PostgreSQL does.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("users").addColumn("disabled", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("users").addColumn("last_login_at", "text").execute();
}
