import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../../test/support/net.js";
import { startSmtpSink, type SmtpSink, type SmtpSinkOptions } from "../../../test/support/smtp-sink.js";
import { MailSendError, type OutboundMessage } from "../mail-sender.js";
import { fixedCredential, type Credential, type CredentialProvider } from "../mail-source.js";
import { SmtpSender, testSmtp, type SmtpSenderSettings } from "./smtp-sender.js";

/**
 * The SMTP connector against smtp-server on 127.0.0.1: what the server receives is exactly what was
 * handed over, and every way a send fails ends in a MailSendError that says whether trying again helps.
 */

const user = "agent@mailroom.test";
const password = "right-password";

const sinks: SmtpSink[] = [];
const senders: SmtpSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function sink(opts: SmtpSinkOptions = { auth: { user, password } }): Promise<SmtpSink> {
  const started = await startSmtpSink(opts);
  sinks.push(started);
  return started;
}

function settings(target: { host: string; port: number }, overrides: Partial<SmtpSenderSettings> = {}): SmtpSenderSettings {
  return {
    host: target.host,
    port: target.port,
    security: "none",
    login: user,
    credentials: fixedCredential({ method: "password", password }),
    timeouts: { connectMs: 5_000, greetingMs: 5_000, socketMs: 20_000 },
    ...overrides,
  };
}

function sender(target: { host: string; port: number }, overrides: Partial<SmtpSenderSettings> = {}): SmtpSender {
  const created = new SmtpSender(settings(target, overrides));
  senders.push(created);
  return created;
}

/** A provider that hands out `tokens` in turn, moving on each time the server refused the current one. */
function tokenProvider(...tokens: string[]): CredentialProvider & { refusals: number } {
  let index = 0;
  return {
    refusals: 0,
    get: () => Promise.resolve<Credential>({ method: "xoauth2", accessToken: tokens[Math.min(index, tokens.length - 1)]! }),
    refused() {
      this.refusals++;
      index++;
    },
  };
}

function passwordProvider(secret: string): CredentialProvider & { refusals: number } {
  return {
    refusals: 0,
    get: () => Promise.resolve<Credential>({ method: "password", password: secret }),
    refused() {
      this.refusals++;
    },
  };
}

let serial = 0;

/** A message with what SMTP likes to mangle: a lone dot line, a line starting with a dot, UTF-8 bytes, a Message-ID. */
function message(opts: { to?: string[]; headerTo?: string; cc?: string } = {}): OutboundMessage {
  serial++;
  const to = opts.to ?? ["customer@example.com"];
  const lines = [
    "From: Support <support@mailroom.test>",
    `To: ${opts.headerTo ?? to.join(", ")}`,
    ...(opts.cc ? [`Cc: ${opts.cc}`] : []),
    `Subject: Ticket ${serial}`,
    `Message-ID: <ticket-${serial}.fixed@mailroom.test>`,
    "Date: Mon, 02 Mar 2026 10:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Grüße aus dem Support.",
    ".",
    ".hidden by dot-stuffing unless unstuffed",
    "",
  ];
  return { raw: Buffer.from(lines.join("\r\n"), "utf8"), envelope: { from: "support@mailroom.test", to } };
}

async function failure(sending: Promise<unknown>): Promise<MailSendError> {
  try {
    await sending;
  } catch (err) {
    expect(err).toBeInstanceOf(MailSendError);
    return err as MailSendError;
  }
  throw new Error("the send succeeded");
}

describe("SMTP sending", () => {
  it("delivers the raw bytes exactly as given, adding no header", async () => {
    const server = await sink();
    const outbound = message();
    const receipt = await sender(server).send(outbound);
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]!.raw.equals(outbound.raw)).toBe(true);
    expect(server.messages[0]!.raw.toString("utf8")).toContain(`Message-ID: <ticket-${serial}.fixed@mailroom.test>\r\n`);
    expect(server.messages[0]!.from).toBe("support@mailroom.test");
    expect(server.messages[0]!.user).toBe(user);
    expect(receipt.response).toMatch(/^250 /);
  });

  it("sends to every envelope recipient, also one that is only in Bcc", async () => {
    const server = await sink();
    const outbound = message({ to: ["to@example.com", "cc@example.org", "hidden@example.net"], headerTo: "to@example.com", cc: "cc@example.org" });
    const receipt = await sender(server).send(outbound);
    expect(server.messages[0]!.to).toEqual(["to@example.com", "cc@example.org", "hidden@example.net"]);
    expect(server.messages[0]!.raw.toString("utf8")).not.toContain("hidden@example.net");
    expect(receipt.accepted).toEqual(["to@example.com", "cc@example.org", "hidden@example.net"]);
    expect(receipt.rejected).toEqual([]);
  });

  it("sends 20 messages over a pool of 2 on at most 2 connections", async () => {
    const server = await sink();
    const pooled = sender(server, { maxConnections: 2 });
    const batch = Array.from({ length: 20 }, () => message());
    await Promise.all(batch.map((m) => pooled.send(m)));
    expect(server.messages).toHaveLength(20);
    expect(new Set(server.messages.map((m) => m.raw.toString("utf8")))).toEqual(new Set(batch.map((m) => m.raw.toString("utf8"))));
    expect(new Set(server.messages.map((m) => m.connectionId)).size).toBeLessThanOrEqual(2);
    expect(server.connectionCount).toBeLessThanOrEqual(2);
  });

  it("close() lets the send under way finish, hangs up every connection and refuses later sends", { timeout: 30_000 }, async () => {
    const server = await sink();
    // idle longer than the test may run, so only close() ends the pooled connection
    const smtp = sender(server, { timeouts: { connectMs: 5_000, greetingMs: 5_000, socketMs: 600_000 } });
    const sending = smtp.send(message());
    await smtp.close();
    await expect(sending).resolves.toMatchObject({ response: expect.stringMatching(/^250 /) });
    expect(server.messages).toHaveLength(1);
    await server.allClosed();
    expect(await failure(smtp.send(message()))).toMatchObject({ code: "closed", retry: true });
  });

  it("reports recipients the server refused while it took the message for the others", async () => {
    const server = await sink();
    server.rejectRecipient("gone@example.net", 550, "5.1.1 No such user");
    server.rejectRecipient("full@example.net", 452, "4.2.2 Mailbox full");
    const receipt = await sender(server).send(message({ to: ["customer@example.com", "gone@example.net", "full@example.net"] }));
    expect(receipt.accepted).toEqual(["customer@example.com"]);
    expect(receipt.rejected).toEqual([
      { address: "gone@example.net", reply: "550 5.1.1 No such user" },
      { address: "full@example.net", reply: "452 4.2.2 Mailbox full" },
    ]);
    expect(server.messages.map((m) => m.to)).toEqual([["customer@example.com"]]);
  });

  it.each([
    { refusals: [550, 553], code: "rejected", retry: false },
    { refusals: [550, 451], code: "temporary", retry: true },
  ])("fails when every recipient is refused ($refusals): retry=$retry", async ({ refusals, code, retry }) => {
    const server = await sink();
    refusals.forEach((reply, i) => server.rejectRecipient(`r${i}@example.net`, reply, `refused r${i}`));
    const err = await failure(sender(server).send(message({ to: refusals.map((_, i) => `r${i}@example.net`) })));
    expect(err).toMatchObject({ code, retry });
    expect(err.message).toContain(`r0@example.net (${refusals[0]} refused r0)`);
    expect(err.message).toContain(`r1@example.net (${refusals[1]} refused r1)`);
    expect(server.messages).toEqual([]);
  });
});

describe("SMTP failures: retry or not", () => {
  it.each([
    { stage: "mail", code: 421, text: "4.7.0 Too busy, closing" },
    { stage: "mail", code: 451, text: "4.3.0 Try again later" },
    { stage: "data", code: 451, text: "4.7.1 Greylisted" },
  ] as const)("a $code at $stage is temporary, with the server's words", async ({ stage, code, text }) => {
    const server = await sink();
    server.failNext({ stage, code, message: text });
    const smtp = sender(server);
    const err = await failure(smtp.send(message()));
    expect(err).toMatchObject({ code: "temporary", retry: true, responseCode: code, serverText: `${code} ${text}` });
    expect(err.message).toContain(`${code} ${text}`);
    expect(server.messages).toEqual([]);
    await smtp.send(message());
    expect(server.messages).toHaveLength(1);
  });

  it.each([
    { stage: "mail", text: "5.7.1 Sender not allowed" },
    { stage: "data", text: "5.7.1 Message content rejected" },
  ] as const)("a 550 at $stage is final: retry=false", async ({ stage, text }) => {
    const server = await sink();
    server.failNext({ stage, code: 550, message: text });
    const err = await failure(sender(server).send(message()));
    expect(err).toMatchObject({ code: "rejected", retry: false, responseCode: 550, serverText: `550 ${text}` });
    expect(server.messages).toEqual([]);
  });

  it.each(["mail", "data"] as const)("a connection dropped at %s is worth a retry, and the next send goes through", async (stage) => {
    const server = await sink();
    server.dropNext({ stage });
    const smtp = sender(server);
    const err = await failure(smtp.send(message()));
    expect(err).toMatchObject({ code: "connection_failed", retry: true, responseCode: undefined });
    expect(server.messages).toEqual([]);
    const again = message();
    await smtp.send(again);
    expect(server.messages.map((m) => m.raw.equals(again.raw))).toEqual([true]);
  });

  it("a closed port is connection_failed with retry=true", async () => {
    const port = await freePort();
    const err = await failure(sender({ host: "127.0.0.1", port }).send(message()));
    expect(err).toMatchObject({ code: "connection_failed", retry: true });
    expect(err.message).toBe(`Nothing accepts connections at 127.0.0.1:${port} (connection refused).`);
  });

  it("a wrong password is auth_failed with retry=true, and the provider hears of it", async () => {
    const server = await sink();
    const credentials = passwordProvider("wrong-password");
    const err = await failure(sender(server, { credentials }).send(message()));
    expect(err).toMatchObject({ code: "auth_failed", retry: true, responseCode: 535, serverText: "535 5.7.8 Authentication credentials invalid" });
    expect(err.message).toContain(user);
    expect(credentials.refusals).toBe(1);
    expect(server.logins.map((l) => l.accepted)).toEqual([false]);
    expect(server.messages).toEqual([]);
  });

  it("sends queued behind a refused login fail as auth_failed too, and the provider hears of it once", async () => {
    const server = await sink();
    const credentials = passwordProvider("wrong-password");
    const smtp = sender(server, { credentials, maxConnections: 1 });
    const errors = await Promise.all([1, 2, 3].map(() => failure(smtp.send(message()))));
    expect(errors.map((e) => [e.code, e.retry])).toEqual([
      ["auth_failed", true],
      ["auth_failed", true],
      ["auth_failed", true],
    ]);
    expect(credentials.refusals).toBe(1);
    expect(server.messages).toEqual([]);
  });
});

describe("SMTP with XOAUTH2", () => {
  it("logs in with the provider's token", async () => {
    const server = await sink({ auth: { user, accessTokens: ["token-1"] } });
    await sender(server, { credentials: tokenProvider("token-1") }).send(message());
    expect(server.logins).toEqual([{ connectionId: server.messages[0]!.connectionId, method: "XOAUTH2", user, secret: "token-1", accepted: true }]);
    expect(server.messages[0]!.user).toBe(user);
  });

  it("after a refused token it tells the provider, and the next send logs in with the new token", async () => {
    const server = await sink({ auth: { user, accessTokens: ["fresh-token"] } });
    const credentials = tokenProvider("expired-token", "fresh-token");
    const smtp = sender(server, { credentials });
    const err = await failure(smtp.send(message()));
    expect(err).toMatchObject({ code: "auth_failed", retry: true });
    expect(credentials.refusals).toBe(1);
    expect(server.messages).toEqual([]);
    await smtp.send(message());
    expect(server.messages).toHaveLength(1);
    expect(server.logins.map((l) => [l.secret, l.accepted])).toContainEqual(["fresh-token", true]);
    expect(server.logins.filter((l) => l.accepted).map((l) => l.secret)).toEqual(["fresh-token"]);
  });
});

describe("STARTTLS", () => {
  it("sends over STARTTLS when the certificate is accepted", async () => {
    const server = await sink({ auth: { user, password }, starttls: true });
    await sender(server, { security: "starttls", tls: { rejectUnauthorized: false } }).send(message());
    expect(server.messages).toHaveLength(1);
  });

  it("refuses an untrusted certificate: tls_error, retry=true", async () => {
    const server = await sink({ auth: { user, password }, starttls: true });
    const err = await failure(sender(server, { security: "starttls" }).send(message()));
    expect(err).toMatchObject({ code: "tls_error", retry: true });
    expect(server.logins).toEqual([]);
  });

  it("refuses to go on without TLS when the server offers no STARTTLS", async () => {
    const server = await sink();
    const err = await failure(sender(server, { security: "starttls" }).send(message()));
    expect(err).toMatchObject({ code: "tls_error", retry: true });
    expect(server.logins).toEqual([]);
  });
});

describe("SMTP connection test", () => {
  const summary = (steps: { step: string; ok: boolean }[]) => steps.map((s) => `${s.step}:${s.ok ? "ok" : "failed"}`);
  // idle longer than the test may run (and than the sink's own 60 s), so only the tester's hang-up ends the connection
  const patient = { timeouts: { connectMs: 5_000, greetingMs: 5_000, socketMs: 600_000 } };

  it("connects and logs in, sends nothing and hangs up", { timeout: 30_000 }, async () => {
    const server = await sink();
    const steps = await testSmtp(settings(server, patient));
    expect(summary(steps)).toEqual(["connect:ok", "authenticate:ok"]);
    expect(steps[0]?.message).toBe(`Connected to 127.0.0.1:${server.port} without encryption.`);
    expect(steps[1]?.message).toBe(`Logged in as ${user}.`);
    expect(server.logins.map((l) => l.accepted)).toEqual([true]);
    expect(server.messages).toEqual([]);
    await server.allClosed();
  });

  it("reports a refused password at the authenticate step, in the server's words, and hangs up", { timeout: 30_000 }, async () => {
    const server = await sink();
    const steps = await testSmtp(settings(server, { ...patient, credentials: fixedCredential({ method: "password", password: "wrong-password" }) }));
    expect(summary(steps)).toEqual(["connect:ok", "authenticate:failed"]);
    expect(steps[1]?.message).toBe(`127.0.0.1:${server.port} refused the login of ${user}: 535 5.7.8 Authentication credentials invalid`);
    await server.allClosed();
  });

  it("stops at connect when nothing listens", async () => {
    const port = await freePort();
    const steps = await testSmtp(settings({ host: "127.0.0.1", port }));
    expect(summary(steps)).toEqual(["connect:failed"]);
    expect(steps[0]?.message).toBe(`Nothing accepts connections at 127.0.0.1:${port} (connection refused).`);
  });
});
