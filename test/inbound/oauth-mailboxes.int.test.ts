import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import type { Dovecot } from "../support/dovecot.js";
import { eventually, testMessage, uniqueUser } from "../support/mail-fixtures.js";
import { startMicrosoft, startOAuthDovecot, type Microsoft } from "../support/microsoft.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * OAuth 2.0 mailboxes that really sign in: Mailroom's token service (MSAL) gets tokens from Entra ID (the
 * Microsoft emulator), and Dovecot (passdb oauth2) and an SMTP server check them with the emulator's
 * introspection, as Exchange Online checks its own. Configured only through the API.
 */
let ms: Microsoft;
let dovecot: Dovecot;
let sink: SmtpSink;
let t: TestApp;
let api: AdminApi;
let queueId: string;

beforeAll(async () => {
  ms = await startMicrosoft();
  dovecot = await startOAuthDovecot(ms);
  sink = await startSmtpSink({
    auth: {
      user: "sender@acme.test",
      verifyToken: async (user, token) => {
        // SMTP AUTH as Exchange Online checks it: a token for SMTP, for this user or its tenant
        const res = await fetchIntrospection(token, "smtp");
        return res.active === true && (res.email === user || res.email === `*@${user.split("@")[1]}`);
      },
    },
  });
  t = await createTestApp("sqlite", {
    runnersEnabled: true,
    parseWorkers: 1,
    pop3PollSeconds: 0.5,
    microsoft: { trustedCaPem: ms.emulator.caPem, tokenTimeoutMs: 10_000, publicUrl: null, catchUpSeconds: 300 },
  });
  await t.app.start();
  api = adminApi(t, await t.tokenFor("admin"));
  queueId = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
});

afterAll(async () => {
  await t?.close();
  await sink?.close();
  await dovecot?.stop();
  await ms?.stop();
});

async function fetchIntrospection(token: string, service: string): Promise<{ active?: boolean; email?: string }> {
  const https = await import("node:https");
  const body = new URLSearchParams({ token }).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${ms.url}/_emulator/introspect`,
      { method: "POST", ca: ms.emulator.caPem, headers: { "content-type": "application/x-www-form-urlencoded", "x-dovecot-auth-service": service } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(JSON.parse(text) as { active?: boolean; email?: string }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const clientCredentials = () => ({ method: "oauth2", grant: "client_credentials", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority });
const passwordGrant = () => ({ method: "oauth2", grant: "password", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority });

async function oauthMailbox(type: "IMAP" | "POP3", auth: Record<string, unknown>, secrets: Record<string, string>): Promise<{ id: string; user: string }> {
  const user = uniqueUser(`oauth-${type.toLowerCase()}`);
  // Dovecot's user database still lists the user; its password is never used
  dovecot.addUser(user, `unused-${user.slice(0, 10)}`);
  const res = await api.post("/api/v1/mailboxes", {
    clientType: "inbound",
    name: user.split("@")[0]!.replace(/[^A-Za-z0-9@_.]/g, "_").slice(0, 40),
    type,
    mailbox: user,
    host: dovecot.host,
    port: type === "IMAP" ? dovecot.imapPort : dovecot.pop3Port,
    security: "none",
    auth,
    ...secrets,
  });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id, user };
}

let apps = 0;
async function enable(mailboxIds: string[]): Promise<void> {
  const res = await api.post("/api/v1/applications", { name: `oauth-${++apps}`, enabled: true, queueId, mailboxIds });
  expect(res.statusCode, res.body).toBe(201);
}

const subjects = async (mailboxId: string) => ((await api.get(`/api/v1/interactions?mailboxId=${mailboxId}&limit=50`)).json().items as { subject: string }[]).map((i) => i.subject).sort();
const status = async (mailboxId: string) => (await api.get(`/api/v1/mailboxes/${mailboxId}`)).json().status as { state: string; code?: string; message?: string };

describe("OAuth 2.0 mailboxes sign in with tokens from Entra ID", () => {
  it("an IMAP mailbox with client credentials takes its mail and marks it \\Seen; its test shows the token's permissions", async () => {
    const box = await oauthMailbox("IMAP", clientCredentials(), { clientSecret: ms.clientSecret });
    const test = (await api.post(`/api/v1/mailboxes/${box.id}/test`)).json();
    expect(test.ok, JSON.stringify(test)).toBe(true);
    expect(test.steps.map((s: { step: string }) => s.step)).toEqual(["acquire_token", "connect", "authenticate", "open_folder"]);
    expect(test.steps[0].message).toMatch(/application permissions: .*IMAP\.AccessAsApp/);

    await dovecot.append(box.user, testMessage("through an app token"));
    await enable([box.id]);
    await eventually(async () => (await subjects(box.id)).length === 1, 20_000);
    expect(await subjects(box.id)).toEqual(["through an app token"]);
    await eventually(async () => [...(await dovecot.flags(box.user)).values()].every((f) => f.includes("\\Seen")), 10_000);
    await eventually(async () => (await status(box.id)).state === "ok", 10_000);
  });

  it("a POP3 mailbox signs in with the password grant (OAuth for POP3, which the reference lacks) and takes its mail", async () => {
    const box = await oauthMailbox("POP3", passwordGrant(), { password: "Pop3-Password-1" });
    // the same user in Entra ID, whose password the grant presents
    await ms.addUser(box.user, "Pop3-Password-1");
    await dovecot.append(box.user, testMessage("through a user token"));
    await enable([box.id]);
    await eventually(async () => (await subjects(box.id)).length === 1, 20_000);
    await eventually(async () => dovecot.maildirMessages(box.user).length === 0, 10_000);
  });

  it("a refused sign-in shows on the mailbox as Entra's status code with its words, and an expiring secret warns 30 days ahead", async () => {
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const box = await oauthMailbox("IMAP", { ...clientCredentials(), secretExpiresAt: soon }, { clientSecret: "not-the-secret" });
    const view = (await api.get(`/api/v1/mailboxes/${box.id}`)).json();
    expect(view.auth.secretExpiry).toMatchObject({ state: "expiring" });
    expect(view.auth.secretExpiry.daysLeft).toBeLessThan(30);
    const metrics = await t.request({ method: "GET", url: "/metrics", token: await t.tokenFor("admin") });
    expect(metrics.body).toMatch(new RegExp(`mailroom_oauth_client_secret_days_left\\{mailbox="${view.name}"\\} (9|10)\\b`));

    await enable([box.id]);
    await eventually(async () => (await status(box.id)).code === "invalid_client", 20_000);
    const s = await status(box.id);
    expect(s.state).toBe("error");
    expect(s.message).toMatch(/Entra ID refused the client secret of the Azure app/);
    expect(s.message).toMatch(/AADSTS7000215/);
    expect(s.message).not.toContain("not-the-secret");
  });

  it("an outbound SMTP mailbox signs in with XOAUTH2 and sends", async () => {
    await ms.addUser("sender@acme.test", "Sender-Password-1");
    const res = await api.post("/api/v1/mailboxes", {
      clientType: "outbound",
      type: "SMTP",
      mailbox: "sender@acme.test",
      host: sink.host,
      port: sink.port,
      security: "none",
      fromAddress: "sender@acme.test",
      auth: passwordGrant(),
      password: "Sender-Password-1",
    });
    expect(res.statusCode, res.body).toBe(201);
    const test = (await api.post(`/api/v1/mailboxes/${res.json().id}/test`)).json();
    expect(test.ok, JSON.stringify(test)).toBe(true);
    expect(test.steps[0]).toMatchObject({ step: "acquire_token", message: expect.stringMatching(/delegated permissions: SMTP\.Send/) });
    expect(sink.logins.at(-1)).toMatchObject({ method: "XOAUTH2", user: "sender@acme.test", accepted: true });

    // a real send through the outbox: the outbound mailbox is enabled by any enabled application
    await enable([]);
    const agent = await t.tokenFor("agent");
    const sent = await t.request({ method: "POST", url: "/api/v1/outbound", token: agent, payload: { from: "sender@acme.test", to: ["customer@example.test"], subject: "Signed in with a token", text: "Hello." } });
    expect(sent.statusCode, sent.body).toBe(202);
    await eventually(async () => sink.messages.some((m) => m.raw.includes("Signed in with a token")), 20_000);
    expect(sink.logins.filter((l) => l.method === "XOAUTH2").every((l) => l.accepted)).toBe(true);
  });
});

