import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../../src/blobs/blob-store.js";
import { IngestService } from "../../src/ingest/ingest.service.js";
import { parseMail } from "../../src/ingest/parse-mail.js";
import { systemClock } from "../../src/shared/clock.js";
import { testDialects } from "../support/dialects.js";
import { commitMessages, fakeParse, insertMailboxRow, msg } from "../support/ingest-fixtures.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

interface Routed {
  id: string;
  queueId: string | null;
  agentId: string | null;
  state: string;
  subject: string;
}

describe.each(testDialects())("routing (%s)", (dialect) => {
  let t: TestApp;
  let admin: string;
  let ingest: IngestService;
  const queue: Record<"app" | "sales" | "vip" | "billing", string> = { app: "", sales: "", vip: "", billing: "" };
  let key = 0;

  const call = async (method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE", url: string, payload?: object, token = admin) =>
    t.request({ method, url, token, ...(payload ? { payload } : {}) });
  /** stores a message (fakeParse: `messageId|subject|inReplyTo|to`) in the app's queue's mailbox; answers its interactions */
  const arrive = async (text: string): Promise<Routed[]> => {
    const outcome = await commitMessages(ingest, { mailboxId: "mb1", queueId: queue.app }, [msg(`1:${++key}`, text)]);
    const all = (await call("GET", "/api/v1/interactions?limit=200")).json().items as Routed[];
    return outcome.created.map((id) => all.find((i) => i.id === id)!);
  };
  const route = async (pattern: string, queueId: string, priority?: number) => {
    const res = await call("POST", "/api/v1/routes", { pattern, queueId, ...(priority === undefined ? {} : { priority }) });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  };
  const history = async (id: string) => (await call("GET", `/api/v1/interactions/${id}/history`)).json().items as { action: string; detail: Record<string, unknown> }[];

  beforeAll(async () => {
    t = await createTestApp(dialect);
    admin = await t.tokenFor("admin");
    for (const name of Object.keys(queue) as (keyof typeof queue)[]) {
      queue[name] = (await call("POST", "/api/v1/queues", { name })).json().id;
    }
    await insertMailboxRow(t.store.db.kysely, "mb1");
    // one ingest service for the whole file: a route edit must reach it without a restart
    ingest = new IngestService(t.store.db.kysely, new DatabaseBlobStore(t.store.db.kysely), fakeParse, systemClock);
  });
  afterAll(async () => t?.close());

  it("sends mail that matches no route to the application's queue, and says so in the history", async () => {
    const [only] = await arrive("r0@x|no route yet||someone@elsewhere.test");
    expect(only).toMatchObject({ queueId: queue.app, state: "queued", agentId: null });
    expect(await history(only!.id)).toEqual([{ action: "routed", actor: null, at: expect.any(String), detail: expect.objectContaining({ rule: null, queueId: queue.app }) }]);
  });

  it("routes by exact address and by @domain, the lowest priority number first, an address before a domain on a tie; a route edit applies to the next message", async () => {
    const domain = await route("@Acme.test", queue.sales, 10);
    const vip = await route("VIP@acme.test", queue.vip, 10);
    expect((await arrive("r1@x|to vip||vip@acme.test"))[0]).toMatchObject({ queueId: queue.vip });
    expect((await arrive("r2@x|to info||info@acme.test"))[0]).toMatchObject({ queueId: queue.sales });
    // the domain route now comes first by priority
    expect((await call("PATCH", `/api/v1/routes/${domain}`, { priority: 5 })).statusCode).toBe(200);
    const [won] = await arrive("r3@x|vip again||vip@acme.test");
    expect(won).toMatchObject({ queueId: queue.sales });
    const [routed] = await history(won!.id);
    expect(routed!.detail).toMatchObject({ rule: { id: domain, pattern: "@acme.test", priority: 5 }, why: expect.stringContaining("vip@acme.test matched the domain @acme.test") });
    // deleting both: the application's queue again
    for (const id of [domain, vip]) expect((await call("DELETE", `/api/v1/routes/${id}`)).statusCode).toBe(204);
    expect((await arrive("r4@x|after delete||vip@acme.test"))[0]).toMatchObject({ queueId: queue.app });
  });

  it("reads Cc and Delivered-To as well as To", async () => {
    const billing = await route("billing@acme.test", queue.billing, 1);
    const parsing = new IngestService(t.store.db.kysely, new DatabaseBlobStore(t.store.db.kysely), parseMail, systemClock);
    const eml = (...headers: string[]) => Buffer.from([...headers, "Subject: routed", "", "body", ""].join("\r\n"));
    for (const [n, header] of [["Cc: billing@acme.test"], ["Delivered-To: <Billing@Acme.test>"]].entries()) {
      const raw = eml(`Message-ID: <h${n}@x>`, "From: c@customer.test", "To: nobody@elsewhere.test", ...header);
      const outcome = await commitMessages(parsing, { mailboxId: "mb1", queueId: queue.app }, [{ sourceKey: `h:${n}`, raw, size: raw.length, truncated: false, receivedAt: null }]);
      const detail = (await call("GET", `/api/v1/interactions/${outcome.created[0]}`)).json();
      expect(detail.queueId, header[0]).toBe(queue.billing);
    }
    expect((await call("DELETE", `/api/v1/routes/${billing}`)).statusCode).toBe(204);
  });

  it("with Route to Multiple Destinations on, makes one interaction per matched queue and stores the message once; off, one", async () => {
    const a = await route("@multi.test", queue.sales, 2);
    const b = await route("desk@multi.test", queue.vip, 1);
    const c = await route("desk@multi.test", queue.billing, 3);
    expect((await call("GET", "/api/v1/settings/routing")).json()).toEqual({ routeToMultipleDestinations: false });
    const single = await arrive("m1@x|one destination||desk@multi.test");
    expect(single.map((i) => i.queueId)).toEqual([queue.vip]);

    expect((await call("PUT", "/api/v1/settings/routing", { routeToMultipleDestinations: true })).json()).toEqual({ routeToMultipleDestinations: true });
    const many = await arrive("m2@x|three destinations||desk@multi.test,other@multi.test");
    expect(many.map((i) => i.queueId).sort()).toEqual([queue.vip, queue.sales, queue.billing].sort());
    expect(new Set(many.map((i) => i.state))).toEqual(new Set(["queued"]));
    // the email itself is one message: every interaction shows the same one, once, in its thread
    const details = await Promise.all(many.map(async (i) => (await call("GET", `/api/v1/interactions/${i.id}`)).json()));
    expect(new Set(details.map((d) => d.messages.length))).toEqual(new Set([1]));
    expect(details[0].messages[0].interactionIds.sort()).toEqual(many.map((i) => i.id).sort());
    const messages = await t.store.db.kysely.selectFrom("messages").select("id").where("internet_message_id", "=", "m2@x").execute();
    expect(messages).toHaveLength(1);
    // each interaction is worked on its own
    expect((await call("POST", `/api/v1/interactions/${many[0]!.id}/done`)).json()).toMatchObject({ state: "done" });
    expect((await call("GET", `/api/v1/interactions/${many[1]!.id}`)).json()).toMatchObject({ state: "queued" });

    await call("PUT", "/api/v1/settings/routing", { routeToMultipleDestinations: false });
    for (const id of [a, b, c]) await call("DELETE", `/api/v1/routes/${id}`);
  });

  it("refuses a route with a bad pattern, an unknown queue, a duplicate, and refuses agents", async () => {
    const bad = await call("POST", "/api/v1/routes", { pattern: "not an address", queueId: "nope", priority: -1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.map((d: { path: string }) => d.path).sort()).toEqual(["pattern", "priority"]);
    const unknownQueue = await call("POST", "/api/v1/routes", { pattern: "@ok.test", queueId: "nope" });
    expect(unknownQueue.statusCode).toBe(400);
    expect(unknownQueue.json().error.details[0].path).toBe("queueId");
    const id = await route("@twice.test", queue.sales);
    const twice = await call("POST", "/api/v1/routes", { pattern: "@TWICE.test", queueId: queue.sales });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.code).toBe("route_exists");
    const agent = await t.tokenFor("agent");
    expect((await call("GET", "/api/v1/routes", undefined, agent)).statusCode).toBe(403);
    expect((await call("PUT", "/api/v1/settings/routing", { routeToMultipleDestinations: true }, agent)).statusCode).toBe(403);
    expect((await call("PATCH", "/api/v1/routes/nope", { priority: 1 })).statusCode).toBe(404);
    expect((await call("DELETE", `/api/v1/routes/${id}`)).statusCode).toBe(204);
    expect((await call("DELETE", `/api/v1/routes/${id}`)).statusCode).toBe(404);
    const actions = ((await call("GET", "/api/v1/audit?limit=200")).json().items as { action: string }[]).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(["route.create", "route.update", "route.delete", "settings.routing"]));
  });

  it("gives a customer's new message in a thread an agent holds to that agent", async () => {
    const agent = await t.tokenFor("agent");
    const agentId = (await call("GET", "/api/v1/users")).json().items.find((u: { username: string }) => u.username === "agent1").id;
    expect((await call("PUT", `/api/v1/queues/${queue.app}/agents`, { userIds: [agentId] })).json()).toEqual({ userIds: [agentId] });
    const [first] = await arrive("t1@x|my order||support@acme.test");
    expect((await call("POST", `/api/v1/interactions/${first!.id}/accept`, undefined, agent)).json()).toMatchObject({ state: "assigned", agentId });
    const [reply] = await arrive("t2@x|Re: my order|t1@x|support@acme.test");
    expect(reply).toMatchObject({ state: "assigned", agentId, queueId: queue.app });
    expect((await history(reply!.id))[0]!.detail).toMatchObject({ agentId, why: expect.stringContaining(first!.id) });
    // once done, the next message of the thread waits in the queue again
    await call("POST", `/api/v1/interactions/${first!.id}/done`, undefined, agent);
    await call("POST", `/api/v1/interactions/${reply!.id}/done`, undefined, agent);
    const [later] = await arrive("t3@x|Re: my order|t2@x|support@acme.test");
    expect(later).toMatchObject({ state: "queued", agentId: null });
  });
});
