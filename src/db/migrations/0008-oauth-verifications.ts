import { sql, type Kysely } from "kysely";

/**
 * The OAuth migration assistant: every dry run of OAuth 2.0 settings against a mailbox, kept so that a
 * production mailbox moves only after a test mailbox passed with the same Azure app; and, on the mailbox,
 * where its password went before it moved (the password is kept: it is the way back).
 */
export async function up(untyped: Kysely<unknown>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = untyped as Kysely<any>;
  await db.schema.alterTable("mailboxes").addColumn("oauth_migrated_from", "text").execute();
  await db.schema
    .createTable("oauth_verifications")
    .addColumn("id", "text", (c) => c.primaryKey())
    // a deleted mailbox takes its dry runs with it; the audit log keeps that they happened
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
    // named as on mailboxes, and not "grant", a reserved word in both dialects' SQL
    .addColumn("oauth_grant", "text", (c) => c.notNull().check(sql`oauth_grant in ('client_credentials','password')`))
    .addColumn("client_id", "text", (c) => c.notNull())
    .addColumn("directory_id", "text", (c) => c.notNull())
    .addColumn("tenant_authority", "text", (c) => c.notNull())
    .addColumn("ok", "integer", (c) => c.notNull())
    .addColumn("steps", "text", (c) => c.notNull())
    .addColumn("verified_at", "text", (c) => c.notNull())
    .addColumn("test_mailbox", "integer", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("oauth_verifications_mailbox").on("oauth_verifications").columns(["mailbox_id", "verified_at"]).execute();
  // what the migration asks: has a test mailbox passed with this Azure app lately?
  await sql`create index oauth_verifications_passed on oauth_verifications (client_id, directory_id, tenant_authority, verified_at) where ok = 1 and test_mailbox = 1`.execute(db);
}
