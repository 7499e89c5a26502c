import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../blobs/blob-store.js";
import { InteractionsStore } from "../features/interactions/interactions.store.js";
import { systemClock } from "../shared/clock.js";
import { openTestDb, testDialects, type TestDb } from "../../test/support/dialects.js";
import { IngestService } from "./ingest.service.js";
import { fakeParse, insertMailboxRow, msg } from "../../test/support/ingest-fixtures.js";
import { SourceStateStore } from "./ingest.store.js";

const ctx = { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set<string>() };

describe.each(testDialects())("ingest store (%s)", (dialect) => {
  let t: TestDb;
  let ingest: IngestService;
  let interactions: InteractionsStore;
  let state: SourceStateStore;
  const target = { mailboxId: "mb1", queueId: "q1" };

  beforeEach(async () => {
    t = await openTestDb(dialect);
    const k = t.db.kysely;
    const now = new Date().toISOString();
    await k.insertInto("queues").values({ id: "q1", name: "Support", created_at: now }).execute();
    await insertMailboxRow(k, "mb1");
    interactions = new InteractionsStore(k);
    state = new SourceStateStore(k);
    ingest = new IngestService(k, new DatabaseBlobStore(k), interactions, state, fakeParse, systemClock);
  });
  afterEach(async () => t?.cleanup());

  it("stores each message once per source key, keeping the raw bytes", async () => {
    const r1 = await ingest.commitBatch(target, [msg("1:1", "a@x|first"), msg("1:2", "b@x|second")], ctx);
    expect(r1.created).toHaveLength(2);
    const again = await ingest.commitBatch(target, [msg("1:1", "a@x|first"), msg("1:2", "b@x|second")], ctx);
    expect(again).toMatchObject({ created: [], alreadyStored: 2 });
    expect(await interactions.count()).toBe(2);
    const row = await interactions.byId(r1.created[0]!);
    expect(row).toMatchObject({ subject: "first", queue_id: "q1", state: "queued", received_at: "2026-11-01T10:00:00.000Z" });
    const blob = await new DatabaseBlobStore(t.db.kysely).get(row!.raw_blob_id);
    expect(blob?.toString()).toBe("a@x|first");
  });

  it("treats the same Message-ID and content under a new key as a duplicate, but a reused Message-ID with other content as new", async () => {
    await ingest.commitBatch(target, [msg("1:1", "a@x|hello")], ctx);
    const dup = await ingest.commitBatch(target, [msg("2:1", "a@x|hello")], ctx);
    expect(dup).toMatchObject({ created: [], duplicates: 1 });
    const reused = await ingest.commitBatch(target, [msg("2:2", "a@x|something else")], ctx);
    expect(reused.created).toHaveLength(1);
    expect(await interactions.count()).toBe(2);
    // the duplicate's key is recorded, so its acknowledgement is tracked like any other
    expect(await state.knownKeys("mb1", ["2:1", "2:2"])).toEqual(new Set(["2:1", "2:2"]));
  });

  it("deduplicates within one batch", async () => {
    const r = await ingest.commitBatch(target, [msg("1:1", "a@x|same"), msg("1:2", "a@x|same")], ctx);
    expect(r).toMatchObject({ duplicates: 1 });
    expect(r.created).toHaveLength(1);
  });

  it("threads a reply into the thread of the message it answers", async () => {
    const first = await ingest.commitBatch(target, [msg("1:1", "root@x|question")], ctx);
    const reply = await ingest.commitBatch(target, [msg("1:2", "reply@x|Re: question|root@x")], ctx);
    const unrelated = await ingest.commitBatch(target, [msg("1:3", "other@x|other|nobody@x")], ctx);
    const a = await interactions.byId(first.created[0]!);
    const b = await interactions.byId(reply.created[0]!);
    const c = await interactions.byId(unrelated.created[0]!);
    expect(b!.thread_id).toBe(a!.thread_id);
    expect(c!.thread_id).not.toBe(a!.thread_id);
  });

  it("stores the folder cursor in the same transaction, and nothing at all when the transaction fails", async () => {
    await ingest.commitBatch(target, [msg("7:1", "a@x|one")], ctx, { folder: "INBOX", uidValidity: "7", lastUid: 1 });
    expect(await state.loadCursor("mb1", "INBOX")).toEqual({ folder: "INBOX", uidValidity: "7", lastUid: 1 });
    // a mailbox that does not exist violates a foreign key half-way through the batch
    await expect(
      ingest.commitBatch({ mailboxId: "missing", queueId: "q1" }, [msg("7:2", "b@x|two")], ctx, { folder: "INBOX", uidValidity: "7", lastUid: 2 }),
    ).rejects.toThrow();
    expect(await interactions.count()).toBe(1);
    expect(await state.loadCursor("missing", "INBOX")).toBeNull();
  });

  it("stores a batch prepared ahead of its commit, and a key stored after the prepare only once", async () => {
    const batch = [msg("1:1", "a@x|early"), msg("1:2", "b@x|late")];
    const prepared = ingest.prepare(target, batch, ctx);
    expect((await prepared).fresh).toHaveLength(2);
    // another sync stored 1:1 between this batch's prepare and its commit
    await ingest.commitBatch(target, [msg("1:1", "a@x|early")], ctx);
    const r = await ingest.commitBatch(target, batch, ctx, undefined, prepared);
    expect(r).toMatchObject({ alreadyStored: 1, duplicates: 0 });
    expect(r.created).toHaveLength(1);
    expect(await interactions.count()).toBe(2);
    expect((await interactions.byId(r.created[0]!))?.subject).toBe("late");
  });

  it("tracks acknowledgement: stored keys stay unacked until marked", async () => {
    await ingest.commitBatch(target, [msg("1:1", "a@x|one"), msg("1:2", "b@x|two")], ctx);
    expect((await state.unackedKeys("mb1")).sort()).toEqual(["1:1", "1:2"]);
    await state.markAcked("mb1", ["1:1"]);
    expect(await state.unackedKeys("mb1")).toEqual(["1:2"]);
  });

  it("stores attachments with their bytes", async () => {
    const r = await ingest.commitBatch(target, [msg("1:1", "img@x|with image")], ctx);
    const [att] = await interactions.attachmentsOf(r.created);
    expect(att).toMatchObject({ filename: "logo.png", inline: 1, content_id: "logo@x", size: 3 });
  });
});
