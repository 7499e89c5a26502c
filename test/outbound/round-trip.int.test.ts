import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import { testDialects } from "../support/dialects.js";
import { startDovecot, type Dovecot } from "../support/dovecot.js";
import { eventually, uniqueUser } from "../support/mail-fixtures.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * The contact-center round trip through the HTTP API alone, with real peers: a customer's email arrives
 * in Dovecot → Mailroom's runner stores it and routes it by its address → the agent accepts it and
 * replies from a chosen From address → smtp-server receives the reply with the right headers → the
 * thread shows both → the customer's answer to the reply joins the thread, held by the same agent.
 */
let dovecot: Dovecot;
let sink: SmtpSink;

beforeAll(async () => {
  dovecot = await startDovecot();
  sink = await startSmtpSink({ auth: { user: "relay@acme.test", password: "relay-password-1" } });
});
afterAll(async () => {
  await dovecot?.stop();
  await sink?.close();
});

describe.each(testDialects())("an agent's round trip (%s)", (dialect) => {
  let t: TestApp;
  let admin: AdminApi;

  beforeAll(async () => {
    t = await createTestApp(dialect, { runnersEnabled: true, parseWorkers: 1 });
    await t.app.start();
    admin = adminApi(t, await t.tokenFor("admin"));
  });
  afterAll(async () => t?.close());

  it("takes a customer's email from Dovecot to an agent and the agent's reply to the customer, one thread", async () => {
    const user = uniqueUser("desk");
    dovecot.addUser(user, "desk-password-1");
    const domain = user.slice(user.indexOf("@"));
    const folder = (await admin.post("/api/v1/business-attributes", { name: `Agents ${dialect}` })).json().id;
    await admin.post(`/api/v1/business-attributes/${folder}/values`, { name: `help${domain}`, displayName: "Acme Help" });
    const outbound = await admin.post("/api/v1/mailboxes", {
      clientType: "outbound", type: "SMTP", mailbox: "relay@acme.test", password: "relay-password-1", host: sink.host, port: sink.port, security: "none",
      fromAddress: user, fromAddressFolderId: folder,
    });
    expect(outbound.statusCode, outbound.body).toBe(201);
    const inbound = await admin.post("/api/v1/mailboxes", {
      clientType: "inbound", name: `desk_${dialect}`, type: "IMAP", mailbox: user, password: "desk-password-1", host: dovecot.host, port: dovecot.imapPort, security: "none",
    });
    expect(inbound.statusCode, inbound.body).toBe(201);
    const fallback = (await admin.post("/api/v1/queues", { name: `General ${dialect}` })).json().id;
    const orders = (await admin.post("/api/v1/queues", { name: `Orders ${dialect}` })).json().id;
    expect((await admin.post("/api/v1/routes", { pattern: user, queueId: orders, priority: 1 })).statusCode).toBe(201);
    const agentUser = (await admin.post("/api/v1/users", { username: `rt-agent-${dialect}`, password: "agent-password-9", role: "agent" })).json();
    await t.request({ method: "PUT", url: `/api/v1/queues/${orders}/agents`, token: await t.tokenFor("admin"), payload: { userIds: [agentUser.id] } });
    const app = await admin.post("/api/v1/applications", { name: `Desk ${dialect}`, enabled: true, queueId: fallback, mailboxIds: [inbound.json().id] });
    expect(app.statusCode, app.body).toBe(201);
    const login = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: `rt-agent-${dialect}`, password: "agent-password-9" } });
    const agent = adminApi(t, login.json().token);

    // the customer writes
    const customerId = `order-${dialect}-${Date.now()}@customer.test`;
    await dovecot.append(
      user,
      [`Message-ID: <${customerId}>`, "From: Ann Customer <ann@customer.test>", `To: Acme Desk <${user}>`, "Subject: Order 1042 has not arrived", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", "Hello, where is order 1042?", ""].join("\r\n"),
    );
    // routed to Orders by its address: the agent of Orders sees it
    const waiting = await eventually(async () => {
      const items = (await agent.get("/api/v1/interactions?state=queued")).json().items as { id: string; queueId: string; messageId: string }[];
      return items.find((i) => i.messageId === customerId);
    }, 30_000);
    expect(waiting.queueId).toBe(orders);

    expect((await agent.post(`/api/v1/interactions/${waiting.id}/accept`)).json()).toMatchObject({ state: "assigned", agentId: agentUser.id });
    const reply = await agent.post(`/api/v1/interactions/${waiting.id}/reply`, { from: `help${domain}`, text: "It ships tomorrow." });
    expect(reply.statusCode, reply.body).toBe(202);
    const { outboundId, messageId } = reply.json();
    await eventually(async () => (await agent.get(`/api/v1/outbound/${outboundId}`)).json().state === "sent", 30_000);

    // what the customer receives
    const received = sink.messages.find((m) => m.raw.includes(messageId))!;
    expect(received.to).toEqual(["ann@customer.test"]);
    const mail = await simpleParser(received.raw);
    expect(mail.from?.value).toEqual([{ address: `help${domain}`, name: "Acme Help" }]);
    expect(mail.subject).toBe("Re: Order 1042 has not arrived");
    expect(mail.messageId).toBe(`<${messageId}>`);
    expect(mail.inReplyTo).toBe(`<${customerId}>`);
    expect(mail.references).toBe(`<${customerId}>`);
    expect(mail.text).toContain("It ships tomorrow.");
    expect(mail.text).toContain("> Hello, where is order 1042?");

    // the customer's answer comes back through Dovecot and joins the thread, with the agent who holds it
    await dovecot.append(
      user,
      [`Message-ID: <answer-${customerId}>`, `In-Reply-To: <${messageId}>`, `References: <${customerId}> <${messageId}>`, "From: Ann Customer <ann@customer.test>", `To: ${user}`, "Subject: Re: Order 1042 has not arrived", "", "Thank you!", ""].join("\r\n"),
    );
    const answer = await eventually(async () => {
      const items = (await agent.get("/api/v1/interactions")).json().items as { id: string; messageId: string; agentId: string | null; threadId: string }[];
      return items.find((i) => i.messageId === `answer-${customerId}`);
    }, 30_000);
    expect(answer.agentId).toBe(agentUser.id);
    const thread = (await agent.get(`/api/v1/interactions/${answer.id}`)).json();
    expect(thread.threadId).toBe((await agent.get(`/api/v1/interactions/${waiting.id}`)).json().threadId);
    expect(thread.messages.map((m: { direction: string; messageId: string }) => [m.direction, m.messageId])).toEqual([
      ["in", customerId],
      ["out", messageId],
      ["in", `answer-${customerId}`],
    ]);
    expect((await agent.post(`/api/v1/interactions/${waiting.id}/done`)).json().state).toBe("done");
  });
});
