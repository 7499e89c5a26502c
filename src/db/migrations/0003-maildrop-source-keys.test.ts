import type { Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { openTestDb, testDialects } from "../../../test/support/dialects.js";
import { DatabaseBlobStore } from "../../blobs/blob-store.js";
import { maildropId } from "../../connectors/mail-source.js";
import { IngestService } from "../../ingest/ingest.service.js";
import { messageFingerprint } from "../../ingest/fingerprint.js";
import { parseMail } from "../../ingest/parse-mail.js";
import { systemClock } from "../../shared/clock.js";
import { migrate } from "../database.js";
import { migrations } from "./index.js";

/** Rows as the release before 0003 wrote them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OldDb = Kysely<any>;

const now = "2026-11-01T10:00:00.000Z";
const raw = Buffer.from("Message-ID: <old-1@x>\r\nFrom: a@example.com\r\nSubject: from before\r\n\r\nbody\r\n");

async function mailbox(db: OldDb, id: string, type: "IMAP" | "POP3", options: string): Promise<void> {
  await db
    .insertInto("mailboxes")
    .values({
      id, name: id, client_type: "inbound", type, login: `${id}@Acme.test`, host: "Mail.Acme.test", port: 993, security: "tls", max_size_mb: 5,
      from_address: null, from_address_folder_id: null, auth_method: "password", oauth_grant: null, oauth_client_id: null, oauth_directory_id: null,
      oauth_tenant_authority: null, oauth_secret_expires_at: null, password_sealed: "x", client_secret_sealed: null, test_mailbox: 0, options,
      created_at: now, updated_at: now,
    })
    .execute();
}

async function interaction(db: OldDb, id: string, mailboxId: string): Promise<void> {
  await db.insertInto("blobs").values({ id: `b-${id}`, data: raw, size: raw.length }).execute();
  await db
    .insertInto("interactions")
    .values({
      id, mailbox_id: mailboxId, queue_id: "q1", agent_id: null, state: "queued", message_id: "old-1@x", subject: "from before",
      from_address: "a@example.com", from_name: "", to_json: "[]", cc_json: "[]", reply_to_json: "[]", received_at: now, thread_id: id,
      size_bytes: raw.length, flag_auto_reply: 0, flag_bounce: 0, flag_loop: 0, wrapped: null, dedup_key: `old-${id}`, raw_blob_id: `b-${id}`,
      text: "body", html: null, created_at: now,
    })
    .execute();
}

describe.each(testDialects())("migration 0003: source keys by maildrop (%s)", (dialect) => {
  it("keeps every stored key and cursor, scoped to the maildrop each came from, and fingerprints the old messages at start", async () => {
    const t = await openTestDb(dialect, { migrated: false });
    try {
      // the database as the release before wrote it
      const before = migrations.filter((m) => m.name < "0003");
      for (const m of before) await m.up(t.db.kysely as unknown as Kysely<unknown>, dialect);
      await t.db.kysely.schema.createTable("mailroom_migrations").addColumn("name", "text", (c) => c.primaryKey()).addColumn("applied_at", "text").execute();
      const db = t.db.kysely as unknown as OldDb;
      for (const m of before) await db.insertInto("mailroom_migrations").values({ name: m.name, applied_at: now }).execute();
      await db.insertInto("queues").values({ id: "q1", name: "Support", created_at: now }).execute();
      await mailbox(db, "imap1", "IMAP", JSON.stringify({ folder: "Support" }));
      await mailbox(db, "pop1", "POP3", "{}");
      await interaction(db, "i1", "imap1");
      await interaction(db, "i2", "pop1");
      await db.insertInto("mail_sources").values({ mailbox_id: "imap1", source_key: "1795:42", interaction_id: "i1", acked: 1, created_at: now }).execute();
      await db.insertInto("mail_sources").values({ mailbox_id: "pop1", source_key: "UID7-1700000000", interaction_id: "i2", acked: 0, created_at: now }).execute();
      await db.insertInto("mail_sync_state").values({ mailbox_id: "imap1", folder: "Support", uidvalidity: "1795", last_uid: 42, updated_at: now }).execute();

      // 0003 and whatever came after it
      expect(await migrate(t.db)).toEqual(migrations.map((m) => m.name).filter((name) => name >= "0003"));

      const k = t.db.kysely;
      const keys = await k.selectFrom("source_keys").select(["mailbox_id", "maildrop", "source_key", "epoch", "state", "message_id", "ack", "retired", "size"]).orderBy("mailbox_id").execute();
      expect(keys).toEqual([
        { mailbox_id: "imap1", maildrop: maildropId("IMAP", "Mail.Acme.test", "imap1@Acme.test", "Support"), source_key: "1795:42", epoch: "1795", state: "stored", message_id: "i1", ack: "done", retired: 0, size: raw.length },
        { mailbox_id: "pop1", maildrop: maildropId("POP3", "Mail.Acme.test", "pop1@Acme.test", null), source_key: "UID7-1700000000", epoch: "", state: "stored", message_id: "i2", ack: "pending", retired: 0, size: raw.length },
      ]);
      const cursors = await k.selectFrom("source_cursors").selectAll().execute();
      expect(cursors).toEqual([{ mailbox_id: "imap1", maildrop: keys[0]!.maildrop, cursor: '{"uidValidity":"1795","lastUid":42}', updated_at: now }]);

      // what the connectors of this release look up finds them
      const ingest = new IngestService(k, new DatabaseBlobStore(k), parseMail, systemClock);
      const imap = ingest.forMaildrop({ mailboxId: "imap1", queueId: "q1" }, keys[0]!.maildrop, { maxSizeBytes: 5 << 20, ownAddresses: new Set() });
      expect(await imap.loadCursor()).toBe('{"uidValidity":"1795","lastUid":42}');
      expect([...(await imap.lookup(["1795:42"])).keys()]).toEqual(["1795:42"]);
      const pop = ingest.forMaildrop({ mailboxId: "pop1", queueId: "q1" }, keys[1]!.maildrop, { maxSizeBytes: 5 << 20, ownAddresses: new Set() });
      expect((await pop.unacknowledged(false)).map((r) => r.key)).toEqual(["UID7-1700000000"]);

      expect(await ingest.backfillContentHashes()).toBe(2);
      const hashes = await k.selectFrom("messages").select("content_hash").execute();
      expect(hashes.map((h) => h.content_hash)).toEqual([1, 2].map(() => messageFingerprint({ raw, size: raw.length, truncated: false })));
    } finally {
      await t.cleanup();
    }
  });
});
