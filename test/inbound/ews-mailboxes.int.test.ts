import fs from "node:fs";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import { startDovecot, type Dovecot } from "../support/dovecot.js";
import { eventually, testMessage, uniqueUser } from "../support/mail-fixtures.js";
import { startMicrosoft, type Microsoft } from "../support/microsoft.js";
import { createPeerApp, type PeerApp } from "../support/peer-app.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * Exchange mailboxes through EWS, end to end and configured only through the API: an Exchange Server
 * mailbox signing in with NTLM receives (woken by streaming notifications: the resync is an hour away),
 * marks read, survives throttling and a restart without losing or doubling a message, and answers
 * through an EWS outbound mailbox. The hostile corpus, delivered to EWS and to IMAP, gives the same
 * interactions.
 */
let ms: Microsoft;
let t: TestApp;
let api: AdminApi;
let queueId: string;
const microsoft = () => ({ trustedCaPem: ms.emulator.caPem, tokenTimeoutMs: 10_000, publicUrl: null, catchUpSeconds: 3600 });

beforeAll(async () => {
  ms = await startMicrosoft();
  t = await createTestApp("sqlite", { runnersEnabled: true, parseWorkers: 1, imapResyncSeconds: 3600, microsoft: microsoft() });
  await t.app.start();
  api = adminApi(t, await t.tokenFor("admin"));
  queueId = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
});
afterAll(async () => {
  await t?.close();
  await ms?.stop();
});

const port = () => Number(new URL(ms.url).port);
let applications = 0;

async function ewsMailbox(on: AdminApi = api): Promise<{ id: string; user: string; password: string }> {
  const user = uniqueUser("exch");
  const password = `${user}-secret`;
  await ms.addUser(user, password);
  const res = await on.post("/api/v1/mailboxes", {
    clientType: "inbound",
    name: user.split("@")[0]!.replace(/[^A-Za-z0-9@_.]/g, "_").slice(0, 40),
    type: "EWS",
    mailbox: user,
    password,
    host: "127.0.0.1",
    port: port(),
    security: "tls",
  });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id, user, password };
}

async function enable(id: string, on: AdminApi = api, queue = queueId): Promise<void> {
  const res = await on.post("/api/v1/applications", { name: `ews-${++applications}`, enabled: true, queueId: queue, mailboxIds: [id] });
  expect(res.statusCode, res.body).toBe(201);
}

const subjects = async (mailboxId: string, on: AdminApi = api) =>
  ((await on.get(`/api/v1/interactions?mailboxId=${mailboxId}&limit=200`)).json().items as { subject: string }[]).map((i) => i.subject).sort();
const status = async (mailboxId: string) => (await api.get(`/api/v1/mailboxes/${mailboxId}`)).json().status as { state: string; code?: string; message?: string };

describe("EWS mailboxes", () => {
  it("passes the connection test, takes waiting and new mail through streaming notifications, and marks each read", async () => {
    const box = await ewsMailbox();
    const tested = (await api.post(`/api/v1/mailboxes/${box.id}/test`)).json();
    expect(tested).toMatchObject({ ok: true, steps: [{ step: "open_folder", ok: true }] });
    await ms.deliver(box.user, testMessage("waiting before enable"));
    await enable(box.id);
    await eventually(async () => (await subjects(box.id)).length === 1, 20_000);
    await eventually(async () => (await status(box.id)).state === "ok", 10_000);

    await ms.deliver(box.user, testMessage("arrives while listening"));
    await eventually(async () => (await subjects(box.id)).length === 2, 20_000);
    expect(await subjects(box.id)).toEqual(["arrives while listening", "waiting before enable"]);
    await eventually(async () => (await ms.messages(box.user)).every((m) => m.isRead), 10_000);
  });

  it("loses and doubles nothing while Exchange answers half of its requests with ErrorServerBusy", async () => {
    const box = await ewsMailbox();
    await enable(box.id);
    await eventually(async () => (await status(box.id)).state === "ok", 20_000);
    await ms.control("/_emulator/faults", { fail: { match: "ews", status: 429, retryAfterSeconds: 0.5, ratio: 0.5 } });
    try {
      for (let i = 1; i <= 6; i++) await ms.deliver(box.user, testMessage(`busy ${i}`));
      await eventually(async () => (await subjects(box.id)).length >= 6, 30_000);
      expect(((await ms.get("/_emulator/stats")) as { throttled: number }).throttled).toBeGreaterThan(0);
    } finally {
      await ms.control("/_emulator/faults", { clear: true });
    }
    expect(await subjects(box.id)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `busy ${i}`));
    await eventually(async () => (await ms.messages(box.user)).every((m) => m.isRead), 10_000);
  });

  it("signs in with an application's OAuth 2.0 token (full_access_as_app, impersonating the mailbox), tested and running", async () => {
    const user = uniqueUser("exchapp");
    await ms.addUser(user);
    const res = await api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: user.split("@")[0]!.replace(/[^A-Za-z0-9@_.]/g, "_").slice(0, 40), type: "EWS", mailbox: user,
      host: "127.0.0.1", port: port(), security: "tls",
      auth: { method: "oauth2", grant: "client_credentials", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority },
      clientSecret: ms.clientSecret,
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json().id as string;
    const tested = (await api.post(`/api/v1/mailboxes/${id}/test`)).json();
    expect(tested).toMatchObject({ ok: true, steps: [{ step: "acquire_token", ok: true, message: expect.stringContaining("full_access_as_app") }, { step: "open_folder", ok: true }] });
    await ms.deliver(user, testMessage("through an app's token"));
    await enable(id);
    await eventually(async () => (await subjects(id)).length === 1, 20_000);
    await eventually(async () => (await ms.messages(user)).every((m) => m.isRead), 10_000);
  });

  it("shows a wrong password as auth_failed with Exchange's words", async () => {
    const box = await ewsMailbox();
    expect((await api.patch(`/api/v1/mailboxes/${box.id}`, { password: "not-the-password" })).statusCode).toBe(200);
    await enable(box.id);
    await eventually(async () => (await status(box.id)).code === "auth_failed", 20_000);
    expect((await status(box.id)).message).toMatch(/refused the login .* \(NTLM\)/);
  });
});

describe("an EWS mailbox across a restart", () => {
  it("loses and doubles nothing: mail that arrived while Mailroom was down is taken once", async () => {
    // one node at a time on one database: it runs the mailbox, stops, and starts again
    const db = await createTestApp("sqlite", { runnersEnabled: false, microsoft: microsoft() });
    const api2 = adminApi(db, await db.tokenFor("admin"));
    const node = () => createPeerApp(db, { runnersEnabled: true, parseWorkers: 1, imapResyncSeconds: 3600, microsoft: microsoft() });
    let running: PeerApp | null = null;
    try {
      const box = await ewsMailbox(api2);
      const queue = (await api2.post("/api/v1/queues", { name: "Restart" })).json().id;
      // enabled before the node starts: on SQLite a node hears only its own API's changes at once
      await ms.deliver(box.user, testMessage("before the restart"));
      await enable(box.id, api2, queue);
      running = await node();
      await running.app.start();
      await eventually(async () => (await subjects(box.id, api2)).length === 1, 20_000);
      await running.close();
      running = null;
      for (let i = 1; i <= 3; i++) await ms.deliver(box.user, testMessage(`while down ${i}`));
      running = await node();
      await running.app.start();
      await eventually(async () => (await subjects(box.id, api2)).length >= 4, 20_000);
      await ms.deliver(box.user, testMessage("after the restart"));
      await eventually(async () => (await subjects(box.id, api2)).length >= 5, 20_000);
      expect(await subjects(box.id, api2)).toEqual(["after the restart", "before the restart", "while down 1", "while down 2", "while down 3"]);
      await eventually(async () => (await ms.messages(box.user)).every((m) => m.isRead), 10_000);
    } finally {
      await running?.close();
      await db.close();
    }
  });
});

describe("an agent's round trip through Exchange (EWS in and out)", () => {
  it("takes the customer's email to an agent and sends the reply through CreateItem, with a copy in Sent Items", async () => {
    const desk = await ewsMailbox();
    const customer = uniqueUser("ann");
    await ms.addUser(customer);
    const folder = (await api.post("/api/v1/business-attributes", { name: "EWS agents" })).json().id;
    await api.post(`/api/v1/business-attributes/${folder}/values`, { name: desk.user, displayName: "Acme Help" });
    const outbound = await api.post("/api/v1/mailboxes", {
      clientType: "outbound", type: "EWS", mailbox: desk.user, password: desk.password, host: "127.0.0.1", port: port(), security: "tls",
      fromAddress: desk.user, fromAddressFolderId: folder,
    });
    expect(outbound.statusCode, outbound.body).toBe(201);
    expect((await api.post(`/api/v1/mailboxes/${outbound.json().id}/test`)).json()).toMatchObject({ ok: true });
    const agentUser = (await api.post("/api/v1/users", { username: "ews-agent", password: "agent-password-9", role: "agent" })).json();
    await t.request({ method: "PUT", url: `/api/v1/queues/${queueId}/agents`, token: await t.tokenFor("admin"), payload: { userIds: [agentUser.id] } });
    await enable(desk.id);
    const login = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "ews-agent", password: "agent-password-9" } });
    const agent = adminApi(t, login.json().token);

    const customerId = `order-${Date.now()}@customer.test`;
    await ms.deliver(desk.user, [`Message-ID: <${customerId}>`, `From: Ann Customer <${customer}>`, `To: Acme Help <${desk.user}>`, "Subject: Order 77 is late", "", "Where is order 77?", ""].join("\r\n"));
    const waiting = await eventually(async () => {
      const items = (await agent.get("/api/v1/interactions?state=queued")).json().items as { id: string; messageId: string }[];
      return items.find((i) => i.messageId === customerId);
    }, 30_000);
    await agent.post(`/api/v1/interactions/${waiting.id}/accept`);
    const reply = await agent.post(`/api/v1/interactions/${waiting.id}/reply`, { from: desk.user, text: "It ships today." });
    expect(reply.statusCode, reply.body).toBe(202);
    const { outboundId, messageId } = reply.json();
    await eventually(async () => (await agent.get(`/api/v1/outbound/${outboundId}`)).json().state === "sent", 30_000);

    const received = (await ms.messages(customer)).find((m) => Buffer.from(m.mimeBase64, "base64").toString("latin1").includes(messageId))!;
    const mail = await simpleParser(Buffer.from(received.mimeBase64, "base64"));
    expect(mail.from?.value).toEqual([{ address: desk.user, name: "Acme Help" }]);
    expect(mail.subject).toBe("Re: Order 77 is late");
    expect(mail.inReplyTo).toBe(`<${customerId}>`);
    expect(mail.text).toContain("It ships today.");
    expect((await ms.messages(desk.user, "sentitems")).map((m) => m.subject)).toEqual(["Re: Order 77 is late"]);
    const sent = (await ms.get("/_emulator/sent")) as { via: string; to: string[] }[];
    expect(sent.filter((r) => r.to.includes(customer)).map((r) => r.via)).toEqual(["ews"]);
  });
});

describe("the hostile corpus through EWS and through IMAP", () => {
  let dovecot: Dovecot;
  beforeAll(async () => {
    dovecot = await startDovecot();
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  it("gives one interaction per message, classified the same way, whichever protocol brought it", async () => {
    const corpus = new URL("../corpus/", import.meta.url);
    const files = fs.readdirSync(corpus).filter((f) => f.endsWith(".eml")).sort();
    const ews = await ewsMailbox();
    const imapUser = uniqueUser("imapcorpus");
    dovecot.addUser(imapUser, "corpus-password-1");
    const imap = await api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: "imap_corpus", type: "IMAP", mailbox: imapUser, password: "corpus-password-1", host: dovecot.host, port: dovecot.imapPort, security: "none",
    });
    expect(imap.statusCode, imap.body).toBe(201);
    const raws = files.map((f) => fs.readFileSync(new URL(f, corpus)));
    await dovecot.deliver(imapUser, raws);
    for (const raw of raws) await ms.deliver(ews.user, raw);
    await enable(ews.id);
    await enable(imap.json().id);

    type Item = { id: string; subject: string; from: unknown; flags: unknown; messageId: string | null };
    const listed = async (mailboxId: string) => (await api.get(`/api/v1/interactions?mailboxId=${mailboxId}&limit=200`)).json().items as Item[];
    await eventually(async () => (await listed(ews.id)).length >= files.length && (await listed(imap.json().id)).length >= files.length, 60_000);
    const view = async (mailboxId: string) =>
      Promise.all(
        (await listed(mailboxId)).map(async (i) => {
          const full = (await api.get(`/api/v1/interactions/${i.id}`)).json<Item & { attachments: { filename: string }[] }>();
          // not the sizes: Dovecot serves bare LF line ends as CRLF, Exchange hands over the bytes it was given
          return JSON.stringify([i.subject, i.from, i.flags, i.messageId, full.attachments.map((a) => a.filename)]);
        }),
      );
    const [byEws, byImap] = [(await view(ews.id)).sort(), (await view(imap.json().id)).sort()];
    expect(byEws).toHaveLength(files.length);
    expect(byEws).toEqual(byImap);
  });
});
