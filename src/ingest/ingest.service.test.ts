import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../blobs/blob-store.js";
import type { SourceMessage } from "../connectors/mail-source.js";
import { InteractionsStore } from "../features/interactions/interactions.store.js";
import { MailboxSync, defaultSyncLimits } from "../runners/mailbox-sync.js";
import { systemClock } from "../shared/clock.js";
import { openTestDb, testDialects, type TestDb } from "../../test/support/dialects.js";
import { refuseInserts } from "../../test/support/db-refusal.js";
import { commitMessages, fakeParse, insertMailboxRow, msg, testCtx } from "../../test/support/ingest-fixtures.js";
import { MemoryMaildrop } from "../../test/support/memory-source.js";
import { messageFingerprint } from "./fingerprint.js";
import { IngestService, type MailParser } from "./ingest.service.js";
import { parseMail } from "./parse-mail.js";
import { UnstorableBatchError } from "./sync-store.js";

const target = { mailboxId: "mb1", queueId: "q1" };
const eml = (...lines: string[]) => Buffer.from(lines.join("\r\n"), "utf8");
const customer = ["From: Ann <ann@example.com>", "To: support@company.example", "Subject: Order 1", "Date: Mon, 5 Jan 2026 08:00:00 +0000"];
const withId = (id: string, ...body: string[]) => eml(`Message-ID: <${id}>`, ...customer, "", ...body, "");
const withoutId = (...body: string[]) => eml(...customer, "", ...body, "");
const message = (sourceKey: string, raw: Buffer): SourceMessage => ({ sourceKey, raw, size: raw.length, truncated: false, receivedAt: null });
const tables = ["messages", "interactions", "interaction_history", "attachments", "blobs", "source_keys", "source_cursors", "thread_refs"] as const;

describe.each(testDialects())("ingest into the database (%s)", (dialect) => {
  let t: TestDb;
  let interactions: InteractionsStore;
  const service = (parse: MailParser = parseMail) => new IngestService(t.db.kysely, new DatabaseBlobStore(t.db.kysely), parse, systemClock);
  const count = async (table: (typeof tables)[number]) =>
    Number((await t.db.kysely.selectFrom(table).select((e) => e.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);

  beforeEach(async () => {
    t = await openTestDb(dialect);
    const k = t.db.kysely;
    await k.insertInto("queues").values({ id: "q1", name: "Support", created_at: new Date().toISOString() }).execute();
    await insertMailboxRow(k, "mb1");
    interactions = new InteractionsStore(k);
  });
  afterEach(async () => t?.cleanup());

  it("stores each message once per source key, keeping the raw bytes", async () => {
    const ingest = service(fakeParse);
    const r1 = await commitMessages(ingest, target, [msg("1:1", "a@x|first"), msg("1:2", "b@x|second")]);
    expect(r1.created).toHaveLength(2);
    const again = await commitMessages(ingest, target, [msg("1:1", "a@x|first"), msg("1:2", "b@x|second")]);
    expect(again).toMatchObject({ created: [], alreadyStored: 2 });
    expect(await interactions.count()).toBe(2);
    const row = await interactions.byId(r1.created[0]!);
    expect(row).toMatchObject({ subject: "first", queue_id: "q1", state: "queued", received_at: "2026-11-01T10:00:00.000Z" });
    const body = await interactions.body(row!.message_id);
    expect((await new DatabaseBlobStore(t.db.kysely).get(body!.raw_blob_id))?.toString()).toBe("a@x|first");
  });

  describe("two server messages are one interaction only when they are the same message", () => {
    it("a redelivery — the same Message-ID and the same bytes apart from trace headers — is the same message", async () => {
      const ingest = service();
      const original = withId("m1@shop.example", "Where is my order?");
      const redelivered = Buffer.concat([eml("Received: from mx2.example by mail.company.example", "Delivered-To: other@company.example", "X-Spam-Score: 0.1", ""), original]);
      await commitMessages(ingest, target, [message("1:1", original)]);
      expect(await commitMessages(ingest, target, [message("1:2", redelivered)])).toMatchObject({ created: [], duplicates: 1 });
      expect(await interactions.count()).toBe(1);
    });

    it("a reused Message-ID with other content, or the same content with other line ends, is a new message", async () => {
      const ingest = service();
      await commitMessages(ingest, target, [message("1:1", withId("m1@shop.example", "Where is my order?"))]);
      const otherBody = await commitMessages(ingest, target, [message("1:2", withId("m1@shop.example", "Cancel my order"))]);
      const lf = Buffer.from(withId("m1@shop.example", "Where is my order?").toString("latin1").replace(/\r\n/g, "\n"), "latin1");
      const otherBytes = await commitMessages(ingest, target, [message("1:3", lf)]);
      expect(otherBody.created).toHaveLength(1);
      expect(otherBytes.created).toHaveLength(1);
      expect(await interactions.count()).toBe(3);
    });

    it("two messages without Message-ID are two, even with identical bytes, and even when they differ only outside trace headers", async () => {
      const ingest = service();
      const same = withoutId("Please call me back.");
      const otherHeader = eml("X-Mailer: FormMail 2", ...customer, "", "Please call me back.", "");
      const r = await commitMessages(ingest, target, [message("1:1", same), message("1:2", same), message("1:3", otherHeader)]);
      expect(r.created).toHaveLength(3);
    });

    it("empty, blank and header-only oversize messages without Message-ID are each their own interaction", async () => {
      const ingest = service();
      const headers = eml(...customer, "", "");
      const oversize = (key: string): SourceMessage => ({ sourceKey: key, raw: headers, size: 30_000_000, truncated: true, receivedAt: null });
      const r = await commitMessages(ingest, target, [
        message("1:1", Buffer.alloc(0)),
        message("1:2", Buffer.alloc(0)),
        message("1:3", Buffer.from("  \r\n\r\n")),
        message("1:4", Buffer.from("  \r\n\r\n")),
        oversize("1:5"),
        oversize("1:6"),
      ]);
      expect(r).toMatchObject({ duplicates: 0 });
      expect(r.created).toHaveLength(6);
    });

    it("in a re-read after the maildrop renumbered, the same bytes are the same message, matched one for one", async () => {
      const ingest = service();
      const twin = withoutId("Please call me back.");
      const before = await commitMessages(ingest, target, [message("7:1", twin), message("7:2", twin), message("7:3", withId("m3@x", "hi"))], { epoch: "7" });
      expect(before.created).toHaveLength(3);
      // the folder renumbered (new UIDVALIDITY): every message comes again under a new key, and one more twin arrived
      const reread = await commitMessages(
        ingest,
        target,
        [message("8:1", twin), message("8:2", twin), message("8:3", withId("m3@x", "hi")), message("8:4", twin)],
        { epoch: "8", reread: true },
      );
      expect(reread).toMatchObject({ duplicates: 3 });
      expect(reread.created).toHaveLength(1);
      const linked = await t.db.kysely.selectFrom("source_keys").select(["source_key", "message_id"]).where("epoch", "=", "8").orderBy("source_key").execute();
      // the two old twins are claimed by one new key each, the third twin is new
      expect(new Set(linked.slice(0, 2).map((r) => r.message_id))).toEqual(new Set(before.created.slice(0, 2)));
      expect(linked[3]!.message_id).toBe(reread.created[0]);
    });
  });

  it("keeps keys and cursors per maildrop: the same key from another server is another message", async () => {
    const ingest = service(fakeParse);
    await commitMessages(ingest, target, [msg("1:1", "a@x|first")], { maildrop: "imap-old", cursor: "c-old" });
    const other = ingest.forMaildrop(target, "imap-new", testCtx);
    expect(await other.lookup(["1:1"])).toEqual(new Map());
    expect(await other.loadCursor()).toBeNull();
    expect(await ingest.forMaildrop(target, "imap-old", testCtx).loadCursor()).toBe("c-old");
    const r = await commitMessages(ingest, target, [msg("1:1", "b@x|second")], { maildrop: "imap-new" });
    expect(r.created).toHaveLength(1);
  });

  it("tracks acknowledgement, refusal, retirement and failing attempts of keys", async () => {
    const ingest = service(fakeParse);
    await commitMessages(ingest, target, [msg("1:1", "a@x|one"), msg("1:2", "b@x|two"), msg("1:3", "c@x|three")]);
    const store = ingest.forMaildrop(target, "test-maildrop", testCtx);
    expect((await store.unacknowledged(false)).map((r) => r.key).sort()).toEqual(["1:1", "1:2", "1:3"]);
    await store.markAcknowledged(["1:1"], false);
    await store.markRefused(["1:2"]);
    expect((await store.unacknowledged(false)).map((r) => r.key)).toEqual(["1:3"]);
    expect((await store.unacknowledged(true)).map((r) => r.key).sort()).toEqual(["1:2", "1:3"]);
    // acknowledged by removal: the key is free for a new message (a POP3 server may reuse it)
    await store.markAcknowledged(["1:3"], true);
    expect((await store.lookup(["1:3"])).size).toBe(0);
    expect((await commitMessages(ingest, target, [msg("1:3", "d@x|reused key")])).created).toHaveLength(1);
    expect((await store.lookup(["1:3"])).get("1:3")).toMatchObject({ state: "stored", ack: "pending", contentHash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    await store.recordAttempt([{ key: "9:9", size: 10 }], "the connection broke");
    await store.recordAttempt([{ key: "9:9", size: 10 }], "the connection broke again");
    expect((await store.lookup(["9:9"])).get("9:9")).toMatchObject({ state: "failing", attempts: 2, reason: "the connection broke again" });
    // stored at last: the failing record gives way
    expect((await commitMessages(ingest, target, [msg("9:9", "e@x|finally")])).created).toHaveLength(1);
    expect((await store.lookup(["9:9"])).get("9:9")).toMatchObject({ state: "stored", attempts: 0 });
  });

  it("stores nothing at all when the transaction fails after some rows were written", async () => {
    const ingest = service(fakeParse);
    await refuseInserts(t.db, "messages", "subject", "third");
    const batch = [msg("1:1", "img@x|with image"), msg("1:2", "b@x|second|img@x"), msg("1:3", "c@x|third")];
    const store = ingest.forMaildrop(target, "test-maildrop", testCtx);
    await expect(store.commit({ messages: batch, skipped: [{ key: "1:0", size: 5, reason: "test" }], cursor: "c1", epoch: "", reread: false, prepared: null })).rejects.toThrow(
      UnstorableBatchError,
    );
    for (const table of tables) expect(await count(table), table).toBe(0);
  });

  it("stores a message the database refuses, found by committing smaller parts, wrapped with its original; the rest as they are", async () => {
    const ingest = service();
    // the text as parsed is what the database refuses: the wrapped form does not carry it
    await refuseInserts(t.db, "messages", "text", "POISON-BODY");
    const drop = new MemoryMaildrop();
    const raws = ["one", "two", "poison", "four", "five"].map((subject) =>
      eml(`Message-ID: <${subject}@x>`, "From: a@example.com", `Subject: ${subject}`, "", subject === "poison" ? "POISON-BODY" : "body", ""),
    );
    for (const raw of raws) drop.deliver(raw);
    const warnings: string[] = [];
    const sync = new MailboxSync(
      await drop.source().open(),
      ingest.forMaildrop(target, "memory", testCtx),
      { ...defaultSyncLimits, maxMessageBytes: 5 * 1024 * 1024 },
      { signal: new AbortController().signal, warn: (code) => warnings.push(code) },
      { firstOnConnection: true },
    );
    const report = await sync.run();
    expect(report).toMatchObject({ created: 5, unstorable: 1 });
    expect(warnings).toEqual(["message_unstorable"]);
    expect(drop.acknowledged).toHaveLength(5);
    const rows = await t.db.kysely.selectFrom("messages").select(["subject", "wrapped", "raw_blob_id", "content_hash"]).orderBy("id").execute();
    expect(rows.map((r) => [r.subject, r.wrapped])).toEqual([
      ["one", null],
      ["two", null],
      ["poison", "unstorable"],
      ["four", null],
      ["five", null],
    ]);
    // the original, whole, kept as the raw message and as an attachment
    expect((await new DatabaseBlobStore(t.db.kysely).get(rows[2]!.raw_blob_id))?.equals(raws[2]!)).toBe(true);
    expect(rows[2]!.content_hash).toBe(messageFingerprint({ raw: raws[2]!, size: raws[2]!.length, truncated: false }));
    const attachments = await t.db.kysely.selectFrom("attachments").select(["filename", "size"]).execute();
    expect(attachments).toEqual([{ filename: "original.eml", size: raws[2]!.length }]);
  });

  it("stores and threads Message-IDs and References of a thousand multi-byte characters", async () => {
    const ingest = service();
    // 992 characters, 2,952 bytes that do not compress: more than PostgreSQL's btree takes in an index row (~2,700)
    const longId = `${Array.from({ length: 980 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20_000))).join("")}@example.com`;
    const root = eml(`Message-ID: <${longId}>`, "From: a@example.com", "Subject: long", "", "body", "");
    const reply = eml("Message-ID: <reply@example.com>", `In-Reply-To: <${longId}>`, `References: <${longId}>`, "From: b@example.com", "Subject: Re: long", "", "body", "");
    const first = await commitMessages(ingest, target, [message("1:1", root)]);
    const second = await commitMessages(ingest, target, [message("1:2", reply)]);
    const [a, b] = [await interactions.byId(first.created[0]!), await interactions.byId(second.created[0]!)];
    expect(a?.internet_message_id).toBe(longId);
    expect(b?.thread_id).toBe(a?.thread_id);
  });

  it("gives messages stored before fingerprints existed theirs", async () => {
    const ingest = service();
    const raw = withId("old@x", "from the old days");
    const [id] = (await commitMessages(ingest, target, [message("1:1", raw)])).created;
    await t.db.kysely.updateTable("messages").set({ content_hash: null }).execute();
    expect(await ingest.backfillContentHashes()).toBe(1);
    const row = await t.db.kysely.selectFrom("messages").select("content_hash").where("id", "=", id!).executeTakeFirst();
    expect(row?.content_hash).toBe(messageFingerprint({ raw, size: raw.length, truncated: false }));
    // and a redelivery of it is recognised again
    expect(await commitMessages(ingest, target, [message("1:2", raw)])).toMatchObject({ duplicates: 1 });
  });

  it("threads a reply into the thread of the message it answers, and stores attachments with their bytes", async () => {
    const ingest = service(fakeParse);
    const first = await commitMessages(ingest, target, [msg("1:1", "root@x|question")]);
    const reply = await commitMessages(ingest, target, [msg("1:2", "reply@x|Re: question|root@x")]);
    const unrelated = await commitMessages(ingest, target, [msg("1:3", "other@x|other|nobody@x")]);
    const [a, b, c] = await Promise.all([first, reply, unrelated].map((r) => interactions.byId(r.created[0]!)));
    expect(b!.thread_id).toBe(a!.thread_id);
    expect(c!.thread_id).not.toBe(a!.thread_id);
    const withImage = await commitMessages(ingest, target, [msg("1:4", "img@x|with image")]);
    const [att] = await interactions.attachmentsOf(withImage.created);
    expect(att).toMatchObject({ filename: "logo.png", inline: 1, content_id: "logo@x", size: 3 });
  });
});
