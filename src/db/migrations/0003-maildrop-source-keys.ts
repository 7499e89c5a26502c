import { createHash } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Dialect } from "../dialect.js";

/**
 * Source keys and cursors belong to the maildrop they came from (protocol, host, login, folder), not to
 * the mailbox row: a mailbox pointed at another server or folder starts afresh there instead of taking
 * new mail there for "already stored". A key is live until its message is gone from a server that may
 * reuse it (POP3); a key can also be set aside (a message the server would not hand over) or be failing
 * (tried, not stored yet). Cursors are the connector's own opaque text. Interactions get the content
 * fingerprint that deduplication compares (filled in for existing rows at start, see ingest), and
 * mailboxes get warnings: what a runner set aside or could not do, for the administrator to see.
 */

interface OldSourceRow {
  mailbox_id: string;
  source_key: string;
  interaction_id: string;
  acked: number;
  created_at: string;
  type: string;
  host: string;
  login: string;
  options: string;
  size_bytes: number;
  wrapped: string | null;
  raw_size: number;
}

interface OldCursorRow {
  mailbox_id: string;
  folder: string;
  uidvalidity: string;
  last_uid: number;
  updated_at: string;
  type: string;
  host: string;
  login: string;
}

/** The maildrop identity as connectors compute it (connectors/mail-source.ts maildropId), frozen here. */
function maildrop(type: string, host: string, login: string, folder: string | null): string {
  const parts = [type.toLowerCase(), host.trim().toLowerCase(), login];
  if (folder !== null) parts.push(folder);
  return JSON.stringify(parts);
}

function folderOf(type: string, options: string): string | null {
  if (type === "POP3") return null;
  try {
    const parsed = JSON.parse(options) as { folder?: unknown };
    return typeof parsed.folder === "string" && parsed.folder ? parsed.folder : "INBOX";
  } catch {
    return "INBOX";
  }
}

/** Keys and other free text that an index holds are bounded: PostgreSQL's btree refuses rows over ~2.7 KB. */
function lookupKey(key: string): string {
  return key.length <= 200 ? key : `#sha256:${createHash("sha256").update(key).digest("hex")}`;
}

export async function up(untyped: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  // the migration reads and writes tables the typed schema of this release no longer has
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db = untyped as Kysely<any>;

  await db.schema
    .createTable("source_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
    .addColumn("maildrop", "text", (c) => c.notNull())
    // the key as the server gave it, and the bounded form that the unique index holds
    .addColumn("source_key", "text", (c) => c.notNull())
    .addColumn("lookup_key", "text", (c) => c.notNull())
    .addColumn("epoch", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull().check(sql`state in ('stored','skipped','failing')`))
    .addColumn("interaction_id", "text", (c) => c.references("interactions.id"))
    .addColumn("ack", "text", (c) => c.notNull().check(sql`ack in ('pending','done','refused')`))
    .addColumn("retired", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("size", "integer", (c) => c.notNull())
    // only the header block was fetched (over Max size): a check of the message fetches it the same way
    .addColumn("truncated", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("reason", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addCheckConstraint("source_keys_stored_has_interaction", sql`(state = 'stored') = (interaction_id is not null)`)
    .execute();
  // invariant 1: a live key of a maildrop is stored at most once
  await sql`create unique index source_keys_live on source_keys (mailbox_id, maildrop, lookup_key) where retired = 0`.execute(db);
  await sql`create index source_keys_unacked on source_keys (mailbox_id, maildrop) where state = 'stored' and ack <> 'done' and retired = 0`.execute(db);
  await db.schema.createIndex("source_keys_interaction").on("source_keys").column("interaction_id").execute();

  await db.schema
    .createTable("source_cursors")
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
    .addColumn("maildrop", "text", (c) => c.notNull())
    .addColumn("cursor", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("source_cursors_pk", ["mailbox_id", "maildrop"])
    .execute();

  await db.schema
    .createTable("mailbox_warnings")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
    .addColumn("code", "text", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("mailbox_warnings_mailbox").on("mailbox_warnings").columns(["mailbox_id", "id"]).execute();

  await db.schema.alterTable("interactions").addColumn("content_hash", "text").execute();
  // with id last, the oldest match comes straight from the index (a plan by (mailbox_id, id) read the whole mailbox)
  await db.schema.createIndex("interactions_content").on("interactions").columns(["mailbox_id", "content_hash", "id"]).execute();

  const sources = (await db
    .selectFrom("mail_sources as s")
    .innerJoin("mailboxes as m", "m.id", "s.mailbox_id")
    .innerJoin("interactions as i", "i.id", "s.interaction_id")
    .innerJoin("blobs as b", "b.id", "i.raw_blob_id")
    .select(["s.mailbox_id", "s.source_key", "s.interaction_id", "s.acked", "s.created_at", "m.type", "m.host", "m.login", "m.options", "i.size_bytes", "i.wrapped", "b.size as raw_size"])
    .execute()) as OldSourceRow[];
  let n = 0;
  for (let i = 0; i < sources.length; i += 200) {
    const rows = sources.slice(i, i + 200).map((r) => ({
      id: `m3-${(n++).toString(36).padStart(10, "0")}`,
      mailbox_id: r.mailbox_id,
      maildrop: maildrop(r.type, r.host, r.login, folderOf(r.type, r.options)),
      source_key: r.source_key,
      lookup_key: lookupKey(r.source_key),
      epoch: r.type === "IMAP" ? r.source_key.slice(0, Math.max(0, r.source_key.indexOf(":"))) : "",
      state: "stored",
      interaction_id: r.interaction_id,
      ack: Number(r.acked) === 1 ? "done" : "pending",
      retired: 0,
      size: Number(r.size_bytes),
      truncated: r.wrapped === "oversize" && Number(r.raw_size) < Number(r.size_bytes) ? 1 : 0,
      attempts: 0,
      reason: null,
      created_at: r.created_at,
      updated_at: r.created_at,
    }));
    await db.insertInto("source_keys").values(rows).execute();
  }

  const cursors = (await db
    .selectFrom("mail_sync_state as c")
    .innerJoin("mailboxes as m", "m.id", "c.mailbox_id")
    .select(["c.mailbox_id", "c.folder", "c.uidvalidity", "c.last_uid", "c.updated_at", "m.type", "m.host", "m.login"])
    .execute()) as OldCursorRow[];
  for (const c of cursors) {
    await db
      .insertInto("source_cursors")
      .values({
        mailbox_id: c.mailbox_id,
        maildrop: maildrop(c.type, c.host, c.login, c.folder),
        cursor: JSON.stringify({ uidValidity: c.uidvalidity, lastUid: Number(c.last_uid) }),
        updated_at: c.updated_at,
      })
      .execute();
  }

  await db.schema.dropTable("mail_sources").execute();
  await db.schema.dropTable("mail_sync_state").execute();
}
