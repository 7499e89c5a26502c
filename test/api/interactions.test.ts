import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../../src/blobs/blob-store.js";
import { IngestService } from "../../src/ingest/ingest.service.js";
import { parseMail } from "../../src/ingest/parse-mail.js";
import { systemClock } from "../../src/shared/clock.js";
import { testDialects } from "../support/dialects.js";
import { commitMessages, fakeParse, insertMailboxRow, msg } from "../support/ingest-fixtures.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

const eml = (...lines: string[]) => [...lines, "", "body", ""].join("\r\n");

describe.each(testDialects())("interactions API (%s)", (dialect) => {
  let t: TestApp;
  let token: string;
  const ids: string[] = [];
  // real messages through the real parser, in a mailbox and thread of their own
  const sender: Record<"named" | "none" | "nameOnly", string> = { named: "", none: "", nameOnly: "" };
  let hostileCid = "";

  beforeAll(async () => {
    t = await createTestApp(dialect);
    // a supervisor sees every queue: these tests read what ingestion stored (what an agent sees: agent-work.test.ts)
    token = await t.tokenFor("supervisor");
    const k = t.store.db.kysely;
    await k.insertInto("queues").values({ id: "q1", name: "Support", created_at: new Date().toISOString() }).execute();
    await insertMailboxRow(k, "mb1");
    await insertMailboxRow(k, "mb2");
    const ingest = new IngestService(k, new DatabaseBlobStore(k), fakeParse, systemClock);
    for (let i = 1; i <= 5; i++) ids.push(...(await commitMessages(ingest, { mailboxId: "mb1", queueId: "q1" }, [msg(`1:${i}`, `m${i}@x|subject ${i}`)])).created);
    ids.push(...(await commitMessages(ingest, { mailboxId: "mb1", queueId: "q1" }, [msg("1:6", "m6@x|Re: subject 1|m1@x")])).created);
    ids.push(...(await commitMessages(ingest, { mailboxId: "mb2", queueId: null }, [msg("1:1", "img@x|with image")])).created);

    await insertMailboxRow(k, "mb3");
    const parsing = new IngestService(k, new DatabaseBlobStore(k), parseMail, systemClock);
    const ingestRaw = async (sourceKey: string, raw: string) => (await commitMessages(parsing, { mailboxId: "mb3", queueId: null }, [msg(sourceKey, raw)])).created[0]!;
    sender.named = await ingestRaw("3:1", eml("Message-ID: <parcel@example.com>", "From: Ann Customer <ann@example.com>", "To: support@company.example", "Subject: Parcel"));
    sender.none = await ingestRaw("3:2", eml("Message-ID: <parcel-2@example.com>", "In-Reply-To: <parcel@example.com>", "To: support@company.example", "Subject: Re: Parcel"));
    sender.nameOnly = await ingestRaw("3:3", eml("Message-ID: <parcel-3@example.com>", "In-Reply-To: <parcel-2@example.com>", "From: Ann Customer", "To: support@company.example", "Subject: Re: Re: Parcel"));
    hostileCid = await ingestRaw(
      "3:4",
      ["Message-ID: <cid@example.com>", "From: x@example.com", "Subject: cid", "MIME-Version: 1.0", "Content-Type: text/html; charset=utf-8", "", '<p>Hi <img src="cid:%"><img src="cid:%E0%A4%A"></p>', ""].join("\r\n"),
    );
  });
  afterAll(async () => t?.close());

  it("lists newest first with filters and cursor pagination", async () => {
    const page1 = await t.request({ method: "GET", url: "/api/v1/interactions?mailboxId=mb1&limit=4", token });
    expect(page1.statusCode).toBe(200);
    const p1 = page1.json();
    expect(p1.items.map((i: { subject: string }) => i.subject)).toEqual(["Re: subject 1", "subject 5", "subject 4", "subject 3"]);
    expect(p1.nextCursor).toBeTruthy();
    const p2 = (await t.request({ method: "GET", url: `/api/v1/interactions?mailboxId=mb1&limit=4&cursor=${p1.nextCursor}`, token })).json();
    expect(p2.items.map((i: { subject: string }) => i.subject)).toEqual(["subject 2", "subject 1"]);
    expect(p2.nextCursor).toBeNull();
    const q = (await t.request({ method: "GET", url: "/api/v1/interactions?queueId=q1&state=queued", token })).json();
    expect(q.items).toHaveLength(6);
    const bad = await t.request({ method: "GET", url: "/api/v1/interactions?state=lost&limit=0", token });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.map((d: { path: string }) => d.path).sort()).toEqual(["limit", "state"]);
  });

  it("shows the thread oldest first on the detail", async () => {
    const d = (await t.request({ method: "GET", url: `/api/v1/interactions/${ids[5]}`, token })).json();
    expect(d.text).toBe("body of Re: subject 1");
    expect(d.messages.map((m: { subject: string }) => m.subject)).toEqual(["subject 1", "Re: subject 1"]);
    const byThread = (await t.request({ method: "GET", url: `/api/v1/interactions?threadId=${d.threadId}`, token })).json();
    expect(byThread.items).toHaveLength(2);
  });

  it("points cid: images at the attachment download and serves its bytes as an attachment", async () => {
    const d = (await t.request({ method: "GET", url: `/api/v1/interactions/${ids[6]}`, token })).json();
    const att = d.attachments[0];
    expect(att).toMatchObject({ filename: "logo.png", inline: true });
    expect(d.html).toContain(`src="/api/v1/interactions/${ids[6]}/attachments/${att.id}"`);
    const res = await t.request({ method: "GET", url: `/api/v1/interactions/${ids[6]}/attachments/${att.id}`, token });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.toString()).toBe("PNG");
    expect(res.headers["content-disposition"]).toMatch(/^attachment; filename="logo.png"/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("shows a message whose HTML has cid: references with malformed %-escapes, leaving them as written", async () => {
    const res = await t.request({ method: "GET", url: `/api/v1/interactions/${hostileCid}`, token });
    expect(res.statusCode).toBe(200);
    expect(res.json().html).toContain('src="cid:%"');
    expect(res.json().html).toContain('src="cid:%E0%A4%A"');
  });

  it("returns the raw message byte for byte", async () => {
    const res = await t.request({ method: "GET", url: `/api/v1/interactions/${ids[0]}/raw`, token });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("message/rfc822");
    expect(res.rawPayload.equals(Buffer.from("m1@x|subject 1"))).toBe(true);
  });

  it("shows from as null for a message without From, in the list, the detail and the thread", async () => {
    const list = await t.request({ method: "GET", url: "/api/v1/interactions?mailboxId=mb3", token });
    expect(list.statusCode).toBe(200);
    const items = list.json().items as Array<{ id: string; from: unknown }>;
    expect(items.find((i) => i.id === sender.none)).toHaveProperty("from", null);

    const detail = await t.request({ method: "GET", url: `/api/v1/interactions/${sender.none}`, token });
    expect(detail.statusCode).toBe(200);
    const d = detail.json();
    expect(d.from).toBeNull();
    expect(d.messages.map((m: { id: string; from: unknown }) => [m.id, m.from])).toEqual([
      [sender.named, { address: "ann@example.com", name: "Ann Customer" }],
      [sender.none, null],
      [sender.nameOnly, { address: "", name: "Ann Customer" }],
    ]);
  });

  it("keeps the sender of a message with a From, also one with only a display name", async () => {
    const items = (await t.request({ method: "GET", url: "/api/v1/interactions?mailboxId=mb3", token })).json().items as Array<{ id: string; from: unknown }>;
    expect(items.find((i) => i.id === sender.named)?.from).toEqual({ address: "ann@example.com", name: "Ann Customer" });
    expect(items.find((i) => i.id === sender.nameOnly)?.from).toEqual({ address: "", name: "Ann Customer" });
    const d = (await t.request({ method: "GET", url: `/api/v1/interactions/${sender.named}`, token })).json();
    expect(d.from).toEqual({ address: "ann@example.com", name: "Ann Customer" });
    const plain = (await t.request({ method: "GET", url: `/api/v1/interactions/${ids[0]}`, token })).json();
    expect(plain.from).toEqual({ address: "customer@example.test", name: "Customer" });
  });

  it("documents from as nullable in the OpenAPI document", async () => {
    const doc = (await t.request({ method: "GET", url: "/api/openapi.json" })).json();
    const body = (path: string) => doc.paths[path].get.responses["200"].content["application/json"].schema;
    const detail = body("/api/v1/interactions/{id}");
    const nullableAddress = { nullable: true, type: "object", required: ["address", "name"] };
    expect(body("/api/v1/interactions").properties.items.items.properties.from).toMatchObject(nullableAddress);
    expect(detail.properties.from).toMatchObject(nullableAddress);
    expect(detail.properties.messages.items.properties.from).toMatchObject(nullableAddress);
  });

  it("answers 404 for unknown interactions and attachments", async () => {
    expect((await t.request({ method: "GET", url: "/api/v1/interactions/nope", token })).statusCode).toBe(404);
    expect((await t.request({ method: "GET", url: `/api/v1/interactions/${ids[0]}/attachments/nope`, token })).statusCode).toBe(404);
    expect((await t.request({ method: "GET", url: "/api/v1/interactions/nope/raw", token })).statusCode).toBe(404);
  });
});
