import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseBlobStore } from "../../src/blobs/blob-store.js";
import { IngestService } from "../../src/ingest/ingest.service.js";
import { parseMail } from "../../src/ingest/parse-mail.js";
import { systemClock } from "../../src/shared/clock.js";
import { testDialects } from "../support/dialects.js";
import { commitMessages, insertMailboxRow } from "../support/ingest-fixtures.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

interface Outbound {
  id: string;
  state: string;
  attempts: number;
  lastError: string | null;
  lastResponse: string | null;
  messageId: string | null;
}

describe.each(testDialects())("replies through the outbox (%s)", (dialect) => {
  let t: TestApp;
  let sink: SmtpSink;
  let admin: string;
  let agent: string;
  let agentId: string;
  let ingest: IngestService;
  let applicationId: string;
  let key = 0;
  let parcel = 0;

  const call = async (method: "GET" | "POST" | "PATCH" | "PUT", url: string, token: string, payload?: object) =>
    t.request({ method, url, token, ...(payload ? { payload } : {}) });
  const customerMail = (id: string, subject: string, ...extra: string[]) =>
    Buffer.from(
      [`Message-ID: <${id}>`, "From: Ann Customer <ann@customer.test>", "To: support@acme.test", "Cc: colleague@customer.test", `Subject: ${subject}`, "Date: Mon, 30 Nov 2026 09:00:00 +0000", ...extra, "", "Where is my parcel?", ""].join("\r\n"),
    );
  const arrive = async (raw: Buffer) => (await commitMessages(ingest, { mailboxId: "mb1", queueId: queueIdOf }, [{ sourceKey: `k:${++key}`, raw, size: raw.length, truncated: false, receivedAt: null }])).created;
  let queueIdOf = "";
  /** the outbound email once its sending is over (sent or failed): the sender works in the background */
  const settled = async (id: string): Promise<Outbound> => {
    for (;;) {
      const view = (await call("GET", `/api/v1/outbound/${id}`, admin)).json<Outbound>();
      if (view.state === "sent" || view.state === "failed") return view;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /** a customer's email "Parcel n" (Message-ID cn@customer.test), accepted by the agent */
  const accepted = async () => {
    const n = ++parcel;
    const [id] = await arrive(customerMail(`c${n}@customer.test`, `Parcel ${n}`));
    expect((await call("POST", `/api/v1/interactions/${id}/accept`, agent)).statusCode).toBe(200);
    return id!;
  };

  beforeAll(async () => {
    sink = await startSmtpSink({ auth: { user: "sender@acme.test", password: "smtp-password-1" } });
    t = await createTestApp(dialect, {}, { outboxOptions: { retryMs: 30, maxRetryMs: 60, pollMs: 20, leaseMs: 5_000, maxAttempts: 3 } });
    admin = await t.tokenFor("admin");
    const folder = (await call("POST", "/api/v1/business-attributes", admin, { name: "Agents" })).json().id;
    await call("POST", `/api/v1/business-attributes/${folder}/values`, admin, { name: "sales@acme.test", displayName: "Acme Sales" });
    const outbound = await call("POST", "/api/v1/mailboxes", admin, {
      clientType: "outbound", type: "SMTP", mailbox: "sender@acme.test", password: "smtp-password-1", host: sink.host, port: sink.port, security: "none",
      fromAddress: "support@acme.test", fromAddressFolderId: folder,
    });
    expect(outbound.statusCode, outbound.body).toBe(201);
    queueIdOf = (await call("POST", "/api/v1/queues", admin, { name: "Support" })).json().id;
    // the inbound mailbox the test's mail comes through, listed by the application (auto-acknowledgement is the application's)
    await insertMailboxRow(t.store.db.kysely, "mb1");
    const app = await call("POST", "/api/v1/applications", admin, { name: "Support", enabled: true, queueId: queueIdOf, mailboxIds: ["mb1"] });
    expect(app.statusCode, app.body).toBe(201);
    applicationId = app.json().id;
    // signed in after the From addresses exist: the session holds them
    agent = await t.tokenFor("agent");
    agentId = (await call("GET", "/api/v1/users", admin)).json().items.find((u: { username: string }) => u.username === "agent1").id;
    await call("PUT", `/api/v1/queues/${queueIdOf}/agents`, admin, { userIds: [agentId] });
    // every test here has the agent hold a few more interactions
    await call("PATCH", `/api/v1/users/${agentId}`, admin, { capacity: 50 });
    ingest = new IngestService(t.store.db.kysely, new DatabaseBlobStore(t.store.db.kysely), parseMail, systemClock);
    t.app.startSending();
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  it("sends an agent's reply from a chosen From address, threaded and quoted, and shows it in the thread", async () => {
    const id = await accepted();
    const res = await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "Sales@acme.test", text: "It left our warehouse today." });
    expect(res.statusCode, res.body).toBe(202);
    const { outboundId, messageId } = res.json();
    const done = await settled(outboundId);
    expect(done).toMatchObject({ state: "sent", attempts: 1, messageId, lastError: null, lastResponse: expect.stringMatching(/^250/) });

    const received = sink.messages.find((m) => m.raw.includes(messageId))!;
    expect(received.to).toEqual(["ann@customer.test"]);
    const mail = await simpleParser(received.raw);
    expect(mail.from?.value).toEqual([{ address: "sales@acme.test", name: "Acme Sales" }]);
    expect(mail.subject).toBe(`Re: Parcel ${parcel}`);
    expect(mail.inReplyTo).toBe(`<c${parcel}@customer.test>`);
    expect(mail.references).toEqual(`<c${parcel}@customer.test>`);
    expect(mail.text).toContain("It left our warehouse today.");
    expect(mail.text).toContain("> Where is my parcel?");

    const detail = (await call("GET", `/api/v1/interactions/${id}`, agent)).json();
    expect(detail.messages.map((m: { direction: string; messageId: string }) => [m.direction, m.messageId])).toEqual([
      ["in", `c${parcel}@customer.test`],
      ["out", messageId],
    ]);
    const actions = ((await call("GET", `/api/v1/interactions/${id}/history`, agent)).json().items as { action: string }[]).map((h) => h.action);
    expect(actions).toEqual(["routed", "accepted", "replied", "sent"]);

    // the customer's answer to the reply joins the thread
    const [answer] = await arrive(customerMail(`a${parcel}@customer.test`, `Re: Parcel ${parcel}`, `In-Reply-To: <${messageId}>`));
    expect((await call("GET", `/api/v1/interactions/${answer}`, admin)).json().threadId).toBe(detail.threadId);
  });

  it("replies to all, forwards and sends new mail", async () => {
    const id = await accepted();
    const all = (await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "support@acme.test", all: true, text: "To you both." })).json();
    const forward = (await call("POST", `/api/v1/interactions/${id}/forward`, agent, { from: "support@acme.test", to: ["warehouse@acme.test"], text: "Please check." })).json();
    const fresh = await call("POST", "/api/v1/outbound", agent, { from: "support@acme.test", to: ["new@customer.test"], subject: "Hello", text: "A new email." });
    expect(fresh.statusCode).toBe(202);
    for (const sent of [all, forward, fresh.json()]) expect((await settled(sent.outboundId)).state).toBe("sent");
    const byId = (mid: string) => sink.messages.find((m) => m.raw.includes(mid))!;
    expect(byId(all.messageId).to.sort()).toEqual(["ann@customer.test", "colleague@customer.test"]);
    expect(byId(forward.messageId).to).toEqual(["warehouse@acme.test"]);
    expect((await simpleParser(byId(forward.messageId).raw)).subject).toBe(`Fwd: Parcel ${parcel}`);
    expect(byId(fresh.json().messageId).to).toEqual(["new@customer.test"]);
  });

  it("sends attachments with a reply, above the 1 MB body limit of other routes, and keeps them on the thread's outbound email", async () => {
    const id = await accepted();
    const pdf = Buffer.alloc(1_500_000, 7);
    const res = await call("POST", `/api/v1/interactions/${id}/reply`, agent, {
      from: "support@acme.test",
      text: "The invoice is attached.",
      attachments: [{ filename: "invoice.pdf", contentType: "application/pdf", contentBase64: pdf.toString("base64") }],
    });
    expect(res.statusCode, res.body.slice(0, 200)).toBe(202);
    expect((await settled(res.json().outboundId)).state).toBe("sent");
    const mail = await simpleParser(sink.messages.find((m) => m.raw.includes(res.json().messageId))!.raw);
    expect(mail.attachments.map((a) => [a.filename, a.contentType, a.content.equals(pdf)])).toEqual([["invoice.pdf", "application/pdf", true]]);
    const out = (await call("GET", `/api/v1/interactions/${id}`, agent)).json().messages.at(-1);
    expect(out).toMatchObject({ direction: "out", attachments: [{ filename: "invoice.pdf", size: pdf.length }] });
  });

  it("refuses a From address that is not the agent's, and a reply to an interaction the agent does not hold", async () => {
    const id = await accepted();
    const wrong = await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "ceo@acme.test", text: "x" });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.details[0].path).toBe("from");
    const [waiting] = await arrive(customerMail(`w${++key}@customer.test`, "waiting"));
    const notHeld = await call("POST", `/api/v1/interactions/${waiting}/reply`, agent, { from: "support@acme.test", text: "x" });
    expect(notHeld.statusCode).toBe(403);
    const injected = await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "support@acme.test", subject: "Hi\r\nBcc: evil@x.test", text: "x" });
    expect(injected.statusCode).toBe(400);
  });

  it("tries a 4xx and a dropped connection again, and fails a 5xx at once with the server's words", async () => {
    const id = await accepted();
    sink.failNext({ stage: "mail", code: 451, message: "4.3.0 Try again later" });
    const retried = (await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "support@acme.test", text: "one" })).json();
    expect(await settled(retried.outboundId)).toMatchObject({ state: "sent", attempts: 2 });

    sink.dropNext({ stage: "data" });
    const dropped = (await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "support@acme.test", text: "two" })).json();
    expect(await settled(dropped.outboundId)).toMatchObject({ state: "sent", attempts: 2 });

    sink.failNext({ stage: "data", code: 550, message: "5.7.1 Message rejected as spam" });
    const refused = (await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "support@acme.test", text: "three" })).json();
    const failed = await settled(refused.outboundId);
    expect(failed).toMatchObject({ state: "failed", attempts: 1 });
    expect(failed.lastError).toContain("5.7.1 Message rejected as spam");
    const history = (await call("GET", `/api/v1/interactions/${id}/history`, agent)).json().items as { action: string; detail: { error?: string } }[];
    expect(history.at(-1)).toMatchObject({ action: "send_failed", detail: { error: expect.stringContaining("5.7.1") } });

    sink.failNext({ stage: "mail", code: 451, message: "4.3.0 Busy", times: 3 });
    const gaveUp = (await call("POST", `/api/v1/interactions/${id}/reply`, agent, { from: "support@acme.test", text: "four" })).json();
    expect(await settled(gaveUp.outboundId)).toMatchObject({ state: "failed", attempts: 3, lastError: expect.stringContaining("gave up after 3 attempts") });
  });

  it("acknowledges new mail automatically, at most three times per sender in ten minutes, never to automatic mail or no-reply senders", async () => {
    const on = await call("PATCH", `/api/v1/applications/${applicationId}`, admin, {
      autoAcknowledge: { enabled: true, subject: "We have your message: {{subject}}", text: "Dear {{customerName}}, your reference is {{referenceNumber}}. Grüße" },
    });
    expect(on.statusCode, on.body).toBe(200);
    const before = sink.messages.length;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(...(await arrive(customerMail(`ack${i}@customer.test`, `Question ${i}`))));
    await arrive(customerMail("auto@customer.test", "Out of office", "Auto-Submitted: auto-replied"));
    await arrive(Buffer.from(["Message-ID: <nr@shop.test>", "From: no-reply@shop.test", "To: support@acme.test", "Subject: Your order", "", "x", ""].join("\r\n")));

    const acked = async () => {
      for (;;) {
        const rows = await t.store.db.kysely.selectFrom("outbox").select(["id", "recipient", "state"]).where("kind", "=", "autoAck").execute();
        if (rows.length && rows.every((r) => r.state === "sent" || r.state === "failed")) return rows;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const rows = await acked();
    expect(rows.map((r) => [r.recipient, r.state])).toEqual([
      ["ann@customer.test", "sent"],
      ["ann@customer.test", "sent"],
      ["ann@customer.test", "sent"],
    ]);
    const acks = sink.messages.slice(before);
    expect(acks).toHaveLength(3);
    const first = await simpleParser(acks.find((m) => m.raw.includes("ack0@customer.test"))!.raw);
    expect(first.subject).toBe("We have your message: Question 0");
    expect(first.text?.trim()).toBe(`Dear Ann Customer, your reference is ${ids[0]}. Grüße`);
    expect(first.headers.get("auto-submitted")).toBe("auto-replied");
    expect(first.inReplyTo).toBe("<ack0@customer.test>");
    // the thread keeps the acknowledgement's text as written, not its encoded body (quoted-printable here)
    const stored = await t.store.db.kysely.selectFrom("messages").select("text").where("internet_message_id", "=", first.messageId!.replace(/^<|>$/g, "")).executeTakeFirstOrThrow();
    expect(stored.text.trim()).toBe(`Dear Ann Customer, your reference is ${ids[0]}. Grüße`);
    const history = (await call("GET", `/api/v1/interactions/${ids[0]}/history`, admin)).json().items as { action: string }[];
    expect(history.map((h) => h.action)).toEqual(["routed", "auto_acknowledged", "sent"]);
    await call("PATCH", `/api/v1/applications/${applicationId}`, admin, { autoAcknowledge: null });
  });
});
