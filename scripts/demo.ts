/**
 * `npm run demo`: Mailroom with a Microsoft 365 mailbox (through the Microsoft emulator's Graph, woken by
 * change notifications) and an IMAP mailbox (a private Dovecot), a few customer emails sent to each, and
 * the interactions shown as they arrive. Runs until Ctrl-C; `--exit` ends once the mail has arrived.
 * Everything runs on 127.0.0.1 in temp dirs, removed at the end. Dovecot comes from apt when missing (root).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startEmulator } from "../emulators/microsoft/index.js";
import { MailroomEventStream } from "../bench/lib/event-stream.js";
import { startDovecot } from "../test/support/dovecot.js";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../test/support/mailroom-process.js";
import { freePort } from "../test/support/net.js";
import { buildWebApp } from "../test/support/web-build.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "8025" }, exit: { type: "boolean", default: false } } });
const requestedPort = Number(values.port);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`--port must be a port number (0: any free one), not ${values.port}`);
  process.exit(2);
}

const say = (line: string) => console.log(line);
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-demo-"));
const cleanups: (() => Promise<void>)[] = [];
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(String(err)));
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const customerMail = (to: string, n: number, subject: string) =>
  [
    `From: Customer ${n} <customer${n}@example.test>`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <demo-${n}-${Date.now()}@example.test>`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    `Hello, this is customer ${n}. ${subject}?`,
    "",
  ].join("\r\n");

async function main(): Promise<void> {
  say("Starting the Microsoft emulator (Entra ID + Graph) ...");
  const emulator = await startEmulator({ certDir: path.join(workDir, "emulator-ca") });
  cleanups.push(() => emulator.close());
  const tenant = emulator.describe().tenants[0]!;
  const client = tenant.clients[0]!;

  say("Starting Dovecot for the IMAP mailbox ...");
  const dovecot = await startDovecot();
  cleanups.push(() => dovecot.stop());
  const imapUser = "orders@acme.test";
  dovecot.addUser(imapUser, "Orders-Password-1");

  say("Building the web app ...");
  const web = await buildWebApp();
  cleanups.push(async () => web.remove());

  const port = requestedPort === 0 ? await freePort() : requestedPort;
  say(`Starting Mailroom on http://127.0.0.1:${port} ...`);
  const adminPassword = "demo-admin-password";
  let mailroom: MailroomProcess;
  try {
    mailroom = await startMailroomProcess({
      dataDir: path.join(workDir, "data"),
      port,
      env: {
        MAILROOM_ADMIN_PASSWORD: adminPassword,
        MAILROOM_TRUSTED_CA_FILE: emulator.caFile,
        MAILROOM_PUBLIC_URL: `http://127.0.0.1:${port}`,
        MAILROOM_LOG_LEVEL: "warn",
        MAILROOM_WEB_DIR: web.dir,
      },
    });
  } catch (err) {
    throw new Error(`Mailroom did not start (is port ${port} taken? try --port 0): ${err instanceof Error ? err.message : String(err)}`);
  }
  cleanups.push(() => mailroom.stop());
  const api = await ApiClient.login(mailroom.base, "admin", adminPassword);

  const queue = await api.call<{ id: string }>("POST", "/api/v1/queues", { name: "Customer Service" });
  const graphMailbox = await api.call<{ id: string; name: string }>("POST", "/api/v1/mailboxes", {
    clientType: "inbound",
    name: "support",
    type: "GRAPH",
    mailbox: "support@contoso.test",
    host: "127.0.0.1",
    port: Number(new URL(emulator.url).port),
    security: "tls",
    auth: { method: "oauth2", grant: "client_credentials", clientId: client.clientId, directoryId: tenant.id, tenantAuthority: `${emulator.url}/` },
    clientSecret: client.clientSecret,
  });
  const imapMailbox = await api.call<{ id: string; name: string }>("POST", "/api/v1/mailboxes", {
    clientType: "inbound",
    name: "orders",
    type: "IMAP",
    mailbox: imapUser,
    password: "Orders-Password-1",
    host: dovecot.host,
    port: dovecot.imapPort,
    security: "none",
  });
  const names = new Map([
    [graphMailbox.id, "Microsoft 365 (Graph) support@contoso.test"],
    [imapMailbox.id, "IMAP orders@acme.test"],
  ]);

  const sentAt = new Map<string, number>();
  let arrived = 0;
  const expected = 6;
  let allArrived: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allArrived = resolve));
  const events = await MailroomEventStream.open(mailroom.base, api.token, (event) => {
    void (async () => {
      for (const id of event.interactionIds) {
        const interaction = await api.call<{ subject: string }>("GET", `/api/v1/interactions/${id}`);
        const started = sentAt.get(interaction.subject);
        const ms = started === undefined ? "" : ` ${Math.round(performance.now() - started)} ms after it was sent`;
        say(`  ✓ interaction from ${names.get(event.mailboxId) ?? event.mailboxId}: "${interaction.subject}"${ms}`);
        if (++arrived === expected) allArrived();
      }
    })().catch((err: unknown) => console.error(String(err)));
  });
  cleanups.push(async () => events.close());

  await api.call("POST", "/api/v1/applications", { name: "Customer Service", enabled: true, queueId: queue.id, mailboxIds: [graphMailbox.id, imapMailbox.id] });
  say("Both mailboxes are enabled; waiting for the Graph subscription ...");
  const subscribed = Date.now() + 30_000;
  while (!(await graphSubscribed(emulator.url, emulator.caPem))) {
    if (Date.now() > subscribed) throw new Error("Mailroom made no Graph subscription within 30 s; see its status: GET /api/v1/mailboxes");
    await new Promise((r) => setTimeout(r, 100));
  }

  say("Sending 3 emails to each mailbox ...");
  const subjects = ["Where is my order", "Change my address", "Cancel my subscription"];
  for (const [i, subject] of subjects.entries()) {
    const graphSubject = `${subject} (Graph)`;
    sentAt.set(graphSubject, performance.now());
    await postEmulator(emulator.url, emulator.caPem, "/_emulator/deliver", { to: "support@contoso.test", mime: customerMail("support@contoso.test", i + 1, graphSubject) });
    const imapSubject = `${subject} (IMAP)`;
    sentAt.set(imapSubject, performance.now());
    await dovecot.append(imapUser, customerMail(imapUser, i + 4, imapSubject));
  }
  const deadline = setTimeout(() => {
    console.error(`Only ${arrived} of ${expected} interactions arrived within 60 s; see GET ${mailroom.base}/api/v1/mailboxes for each mailbox's status.`);
    void stop(1);
  }, 60_000);
  await done;
  clearTimeout(deadline);
  say(`All ${expected} emails are interactions in the queue "Customer Service".`);
  if (values.exit) return stop(0);

  say("");
  say(`Mailroom:  open ${mailroom.base}/ in a browser and sign in as admin / ${adminPassword}`);
  say(`  (the Workspace page shows the emails; Mailboxes, Applications and Supervisor show how they got there)`);
  say(`  or through the API:`);
  say(`  curl -s -X POST ${mailroom.base}/api/v1/auth/login -H 'content-type: application/json' -d '{"username":"admin","password":"${adminPassword}"}'`);
  say(`  then: curl -s ${mailroom.base}/api/v1/interactions -H "authorization: Bearer <token>"`);
  say(`Send another email to the Graph mailbox:`);
  say(`  curl -s --cacert ${emulator.caFile} -X POST ${emulator.url}/_emulator/deliver -H 'content-type: application/json' -d '{"to":"support@contoso.test","mime":"Subject: Hello\\r\\nFrom: a@example.test\\r\\n\\r\\nHi"}'`);
  say("Ctrl-C stops Mailroom, Dovecot and the emulator and removes their temp files.");
}

async function emulatorRequest(url: string, ca: string, method: string, route: string, body?: unknown): Promise<string> {
  const https = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${route}`, { method, ca, headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => ((res.statusCode ?? 500) < 300 ? resolve(text) : reject(new Error(`${route}: ${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const postEmulator = (url: string, ca: string, route: string, body: unknown) => emulatorRequest(url, ca, "POST", route, body);
const graphSubscribed = async (url: string, ca: string) => (JSON.parse(await emulatorRequest(url, ca, "GET", "/_emulator/subscriptions")) as unknown[]).length > 0;

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  await stop(1);
});
