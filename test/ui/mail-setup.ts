import { randomUUID } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import type { Page } from "playwright-core";
import { expect, vi } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import type { UiHarness } from "../support/browser.js";
import { startDovecot, type Dovecot } from "../support/dovecot.js";
import { uniqueUser } from "../support/mail-fixtures.js";
import { closeServer, listenOnLoopback } from "../support/net.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";

/**
 * Polls until `check` passes. The test's own timeout is the only bound: how long mail takes to travel
 * depends on the machine, not on what the test proves.
 */
export function settles<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: 10 * 60_000, interval: 100 });
}

/** Waits until the mailbox's runner has connected (outside a test, where expect.poll is not available). */
export async function connected(api: AdminApi, mailboxId: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const state = (await api.get(`/api/v1/mailboxes/${mailboxId}`)).json<{ status: { state: string } }>().status.state;
      if (state !== "ok") throw new Error(`the mailbox is ${state}, not connected yet`);
    },
    { timeout: 10 * 60_000, interval: 100 },
  );
}

export interface MailDesk {
  dovecot: Dovecot;
  sink: SmtpSink;
  api: AdminApi;
  /** the company mailbox on Dovecot that customers write to */
  deskAddress: string;
  inboundId: string;
  /** routed there by the desk's address; the agent works it */
  ordersQueueId: string;
  /** the application's queue, which the agent does not work */
  generalQueueId: string;
  /** the agent's From addresses: [address, display name] */
  fromAddresses: [string, string][];
  agent: { id: string; username: string; password: string };
  /** a customer's email arrives in the desk's mailbox (IMAP APPEND: Mailroom hears of it through IDLE) */
  deliver(raw: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A working contact-center desk on a real Mailroom: a Dovecot mailbox taken in over IMAP, an SMTP
 * outbound mailbox sending to a recording smtp-server, two From addresses, an Orders queue the desk's
 * address is routed to, and an agent who works Orders. Answers once the mailbox is connected.
 * The harness must run with runners (startUi({ runnersEnabled: true }) and t.app.start()).
 */
export async function setUpMailDesk(ui: UiHarness, name: string): Promise<MailDesk> {
  const dovecot = await startDovecot();
  const sink = await startSmtpSink({ auth: { user: "relay@acme.test", password: "relay-password-1" } });
  const api = adminApi(ui.t, await ui.adminToken());
  const ok = async (res: Promise<{ statusCode: number; body: string; json: () => unknown }>, status = 201) => {
    const r = await res;
    if (r.statusCode !== status) throw new Error(`setting up the desk failed: ${r.statusCode} ${r.body}`);
    return r.json() as { id: string };
  };

  const deskAddress = uniqueUser(name);
  const password = `pw-${randomUUID().slice(0, 8)}`;
  dovecot.addUser(deskAddress, password);
  const domain = deskAddress.slice(deskAddress.indexOf("@"));
  const fromAddresses: [string, string][] = [
    [`help${domain}`, "Acme Help"],
    [`orders${domain}`, "Acme Orders"],
  ];
  const folder = await ok(api.post("/api/v1/business-attributes", { name: `From ${name}` }));
  for (const [address, displayName] of fromAddresses) await ok(api.post(`/api/v1/business-attributes/${folder.id}/values`, { name: address, displayName }));
  await ok(
    api.post("/api/v1/mailboxes", {
      clientType: "outbound", type: "SMTP", mailbox: "relay@acme.test", password: "relay-password-1", host: sink.host, port: sink.port, security: "none",
      fromAddress: deskAddress, fromAddressFolderId: folder.id,
    }),
  );
  const inbound = await ok(
    api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: `${name}_desk`.slice(0, 40), type: "IMAP", mailbox: deskAddress, password, host: dovecot.host, port: dovecot.imapPort, security: "none",
    }),
  );
  const general = await ok(api.post("/api/v1/queues", { name: `General ${name}` }));
  const orders = await ok(api.post("/api/v1/queues", { name: `Orders ${name}` }));
  await ok(api.post("/api/v1/routes", { pattern: deskAddress, queueId: orders.id, priority: 1 }));

  const username = `agent-${name}`;
  const agentPassword = await ui.createUser(username, "agent");
  const users = (await api.get("/api/v1/users")).json<{ items: { id: string; username: string }[] }>();
  const agentId = users.items.find((u) => u.username === username)!.id;
  const put = await ui.t.request({ method: "PUT", url: `/api/v1/queues/${orders.id}/agents`, token: await ui.adminToken(), payload: { userIds: [agentId] } });
  if (put.statusCode !== 200) throw new Error(`adding the agent to Orders failed: ${put.statusCode} ${put.body}`);

  await ok(api.post("/api/v1/applications", { name: `Desk ${name}`, enabled: true, queueId: general.id, mailboxIds: [inbound.id] }));
  await connected(api, inbound.id);

  return {
    dovecot,
    sink,
    api,
    deskAddress,
    inboundId: inbound.id,
    ordersQueueId: orders.id,
    generalQueueId: general.id,
    fromAddresses,
    agent: { id: agentId, username, password: agentPassword },
    async deliver(raw) {
      await dovecot.append(deskAddress, raw);
    },
    async close() {
      await dovecot.stop();
      await sink.close();
    },
  };
}

export interface MailParts {
  from: string;
  to: string;
  cc?: string;
  subject: string;
  text: string;
  html?: string;
  /** with a contentId, an inline part the HTML shows as <img src="cid:…"> */
  attachments?: { filename: string; contentType: string; content: Buffer; contentId?: string }[];
}

/** A customer's email as a mail client writes it: text and HTML alternatives, attachments, CRLF. */
export function customerMail(parts: MailParts): { raw: string; messageId: string } {
  const messageId = `${randomUUID()}@customer.test`;
  const mixed = `mixed-${randomUUID()}`;
  const alternative = `alt-${randomUUID()}`;
  const lines = [
    `From: ${parts.from}`,
    `To: ${parts.to}`,
    ...(parts.cc ? [`Cc: ${parts.cc}`] : []),
    `Subject: ${parts.subject}`,
    `Message-ID: <${messageId}>`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${mixed}"`,
    "",
    `--${mixed}`,
    `Content-Type: multipart/alternative; boundary="${alternative}"`,
    "",
    `--${alternative}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    parts.text,
    ...(parts.html ? [`--${alternative}`, "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", parts.html] : []),
    `--${alternative}--`,
  ];
  for (const a of parts.attachments ?? []) {
    lines.push(
      `--${mixed}`,
      `Content-Type: ${a.contentType}; name="${a.filename}"`,
      `Content-Disposition: ${a.contentId ? "inline" : "attachment"}; filename="${a.filename}"`,
      ...(a.contentId ? [`Content-ID: <${a.contentId}>`] : []),
      "Content-Transfer-Encoding: base64",
      "",
      ...(a.content.toString("base64").match(/.{1,76}/g) ?? []),
    );
  }
  lines.push(`--${mixed}--`, "");
  return { raw: lines.join("\r\n"), messageId };
}

/** A 1×1 transparent PNG. */
export const pixelPng = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=", "base64");

/** A web server on 127.0.0.1 that counts what it is asked for: where a mail's remote content would come from. */
export interface CountingServer {
  base: string;
  /** the paths requested, in order */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startCountingServer(): Promise<CountingServer> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    if ((req.url ?? "").includes(".png")) {
      res.writeHead(200, { "content-type": "image/png", "cache-control": "no-store" });
      res.end(pixelPng);
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>remote</title><p>remote content</p>");
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await listenOnLoopback(server);
  return { base: `http://127.0.0.1:${port}`, requests, close: () => closeServer(server, sockets) };
}

// What runs in the page is passed as script text: these tests compile without the DOM's types.

/**
 * Hears every postMessage that reaches the app's window (a script in a mail frame that ran would call
 * parent.postMessage), and every navigation of the page and its frames.
 */
export async function watchPage(page: Page): Promise<{ messages: string[]; navigations: string[] }> {
  const messages: string[] = [];
  const navigations: string[] = [];
  await page.exposeFunction("mailroomTestHeard", (data: string) => {
    messages.push(data);
  });
  await page.addInitScript({
    content: `window.addEventListener("message", (e) => {
      if (window.mailroomTestHeard) window.mailroomTestHeard(typeof e.data === "string" ? e.data : JSON.stringify(e.data));
    });`,
  });
  page.on("framenavigated", (frame) => navigations.push(frame.url()));
  return { messages, navigations };
}

/** Posts a message from the app's window to itself: proves the listener of watchPage hears messages. */
export async function postToSelf(page: Page, data: string): Promise<void> {
  await page.evaluate(`window.postMessage(${JSON.stringify(data)}, "*")`);
}

/** Marks the page's window; a reload loses the mark (see stillSameDocument). */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate("window.mailroomTestMark = true");
}

/** Whether the page shows the document markDocument marked, i.e. it was not reloaded since. */
export async function stillSameDocument(page: Page): Promise<boolean> {
  return (await page.evaluate("window.mailroomTestMark === true")) === true;
}

/** The id of the element that has the keyboard focus. */
export async function focusedId(page: Page): Promise<string> {
  return String(await page.evaluate("document.activeElement ? document.activeElement.id : ''"));
}
