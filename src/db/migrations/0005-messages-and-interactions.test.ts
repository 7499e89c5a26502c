import type { Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { openTestDb, testDialects } from "../../../test/support/dialects.js";
import { DatabaseBlobStore } from "../../blobs/blob-store.js";
import { InteractionsService } from "../../features/interactions/interactions.service.js";
import { InteractionsStore } from "../../features/interactions/interactions.store.js";
import { messageFingerprint } from "../../ingest/fingerprint.js";
import { IngestService } from "../../ingest/ingest.service.js";
import { parseMail } from "../../ingest/parse-mail.js";
import { systemClock } from "../../shared/clock.js";
import { commitMessages } from "../../../test/support/ingest-fixtures.js";
import { migrate } from "../database.js";
import { migrations } from "./index.js";

/** Rows as the release before 0005 wrote them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OldDb = Kysely<any>;

const at = "2026-11-01T10:00:00.000Z";
const raw = Buffer.from("Message-ID: <old-1@x>\r\nFrom: Ann <ann@example.com>\r\nSubject: from before\r\n\r\nbody\r\n");

async function oldInteraction(db: OldDb, id: string, fields: { state: string; agentId: string | null; messageId: string; threadId: string }): Promise<void> {
  await db.insertInto("blobs").values({ id: `b-${id}`, data: raw, size: raw.length }).execute();
  await db
    .insertInto("interactions")
    .values({
      id, mailbox_id: "mb1", queue_id: "q1", agent_id: fields.agentId, state: fields.state, message_id: fields.messageId, subject: `subject ${id}`,
      from_address: "ann@example.com", from_name: "Ann", to_json: "[]", cc_json: "[]", reply_to_json: "[]", received_at: at, thread_id: fields.threadId,
      size_bytes: raw.length, flag_auto_reply: 0, flag_bounce: 0, flag_loop: 0, wrapped: null, dedup_key: `m:${id}`, content_hash: id === "i1" ? messageFingerprint({ raw, size: raw.length, truncated: false }) : `hash-${id}`,
      raw_blob_id: `b-${id}`, text: `text of ${id}`, html: null, created_at: at,
    })
    .execute();
  await db.insertInto("thread_refs").values({ message_id: fields.messageId, thread_id: fields.threadId, interaction_id: id }).execute();
}

describe.each(testDialects())("migration 0005: messages and interactions (%s)", (dialect) => {
  it("keeps every stored message, id, attachment, source key and thread; the work on each becomes its interaction", async () => {
    const t = await openTestDb(dialect, { migrated: false });
    try {
      const before = migrations.filter((m) => m.name < "0005");
      for (const m of before) await m.up(t.db.kysely as unknown as Kysely<unknown>, dialect);
      await t.db.kysely.schema.createTable("mailroom_migrations").addColumn("name", "text", (c) => c.primaryKey()).addColumn("applied_at", "text").execute();
      const db = t.db.kysely as unknown as OldDb;
      for (const m of before) await db.insertInto("mailroom_migrations").values({ name: m.name, applied_at: at }).execute();
      await db.insertInto("queues").values({ id: "q1", name: "Support", created_at: at }).execute();
      await db
        .insertInto("users")
        .values({ id: "u1", username: "agent1", password_hash: "x", role: "agent", display_name: null, disabled: 0, last_login_at: null, created_at: at, updated_at: at })
        .execute();
      await db
        .insertInto("mailboxes")
        .values({
          id: "mb1", name: "support", client_type: "inbound", type: "IMAP", login: "support@acme.test", host: "mail.acme.test", port: 993, security: "tls",
          max_size_mb: 5, from_address: null, from_address_folder_id: null, auth_method: "password", oauth_grant: null, oauth_client_id: null,
          oauth_directory_id: null, oauth_tenant_authority: null, oauth_secret_expires_at: null, password_sealed: "x", client_secret_sealed: null,
          test_mailbox: 0, options: "{}", created_at: at, updated_at: at,
        })
        .execute();
      await oldInteraction(db, "i1", { state: "queued", agentId: null, messageId: "old-1@x", threadId: "i1" });
      await oldInteraction(db, "i2", { state: "assigned", agentId: "u1", messageId: "old-2@x", threadId: "i1" });
      await db.insertInto("blobs").values({ id: "b-att", data: Buffer.from("PDF"), size: 3 }).execute();
      await db
        .insertInto("attachments")
        .values({ id: "a1", interaction_id: "i2", position: 0, filename: "invoice.pdf", content_type: "application/pdf", size: 3, inline: 0, content_id: null, blob_id: "b-att" })
        .execute();
      await db
        .insertInto("source_keys")
        .values({
          id: "k1", mailbox_id: "mb1", maildrop: "drop", source_key: "7:1", lookup_key: "7:1", epoch: "7", state: "stored", interaction_id: "i1",
          ack: "done", retired: 0, size: raw.length, truncated: 0, attempts: 0, reason: null, created_at: at, updated_at: at,
        })
        .execute();

      expect(await migrate(t.db)).toEqual(migrations.map((m) => m.name).filter((name) => name >= "0005"));

      const k = t.db.kysely;
      expect(await k.selectFrom("messages").select(["id", "direction", "internet_message_id", "subject", "text"]).orderBy("id").execute()).toEqual([
        { id: "i1", direction: "in", internet_message_id: "old-1@x", subject: "subject i1", text: "text of i1" },
        { id: "i2", direction: "in", internet_message_id: "old-2@x", subject: "subject i2", text: "text of i2" },
      ]);
      expect(await k.selectFrom("interactions").select(["id", "message_id", "queue_id", "agent_id", "state", "version", "route_key"]).orderBy("id").execute()).toEqual([
        { id: "i1", message_id: "i1", queue_id: "q1", agent_id: null, state: "queued", version: 1, route_key: "" },
        { id: "i2", message_id: "i2", queue_id: "q1", agent_id: "u1", state: "assigned", version: 1, route_key: "" },
      ]);
      expect((await k.selectFrom("interaction_history").select(["interaction_id", "action"]).orderBy("interaction_id").execute()).map((h) => [h.interaction_id, h.action])).toEqual([
        ["i1", "routed"],
        ["i2", "routed"],
      ]);
      expect(await k.selectFrom("source_keys").select(["source_key", "message_id"]).execute()).toEqual([{ source_key: "7:1", message_id: "i1" }]);

      // the API reads the migrated rows under the ids clients hold
      const service = new InteractionsService(new InteractionsStore(k), new DatabaseBlobStore(k));
      const admin = { userId: "u0", role: "admin" } as const;
      const list = await service.list(admin, {}, 10, undefined);
      expect(list.items.map((i) => [i.id, i.state, i.agentId, i.messageId])).toEqual([
        ["i2", "assigned", "u1", "old-2@x"],
        ["i1", "queued", null, "old-1@x"],
      ]);
      const detail = await service.detail(admin, "i2");
      expect(detail).toMatchObject({ text: "text of i2", threadId: "i1", attachments: [{ id: "a1", filename: "invoice.pdf" }] });
      expect(detail.messages.map((m) => [m.id, m.direction, m.interactionIds])).toEqual([
        ["i1", "in", ["i1"]],
        ["i2", "in", ["i2"]],
      ]);
      expect((await service.raw(admin, "i1")).equals(raw)).toBe(true);
      expect((await service.attachment(admin, "i1", "a1")).data.toString()).toBe("PDF");

      // new mail still finds the old thread, and a redelivery of an old message is still the same message
      const ingest = new IngestService(k, new DatabaseBlobStore(k), parseMail, systemClock);
      const target = { mailboxId: "mb1", queueId: "q1" };
      const reply = Buffer.from("Message-ID: <new-1@x>\r\nIn-Reply-To: <old-2@x>\r\nFrom: ann@example.com\r\nSubject: Re: from before\r\n\r\nmore\r\n");
      const outcome = await commitMessages(ingest, target, [{ sourceKey: "7:2", raw: reply, size: reply.length, truncated: false, receivedAt: null }]);
      expect(outcome.created).toHaveLength(1);
      expect((await service.detail(admin, outcome.created[0]!)).threadId).toBe("i1");
      const again = await commitMessages(ingest, target, [{ sourceKey: "7:3", raw, size: raw.length, truncated: false, receivedAt: null }]);
      expect(again).toMatchObject({ created: [], duplicates: 1 });
    } finally {
      await t.cleanup();
    }
  });
});
