import { randomUUID } from "node:crypto";
import { fixedCredential, type MailSourceSettings } from "../../src/connectors/mail-source.js";
import type { Dovecot } from "./dovecot.js";

let counter = 0;

/** A small RFC 5322 message with CRLF line ends and a unique Message-ID. */
export function testMessage(subject: string, body = `Hello from ${subject}.`): string {
  counter++;
  return [
    `From: Customer ${counter} <customer${counter}@example.test>`,
    `To: support@acme.test`,
    `Subject: ${subject}`,
    `Message-ID: <${randomUUID()}@example.test>`,
    `Date: Mon, 03 Nov 2025 10:00:00 +0000`,
    `MIME-Version: 1.0`,
    `Content-Type: text/plain; charset=utf-8`,
    ``,
    body,
    ``,
  ].join("\r\n");
}

/** A fresh user name, so tests sharing one Dovecot never see each other's mail. */
export function uniqueUser(prefix = "box"): string {
  counter++;
  return `${prefix}${counter}-${randomUUID().slice(0, 8)}@acme.test`;
}

/** Settings for a mailbox on the test Dovecot: plain IMAP on its port unless overridden. */
export function mailboxSettings(
  dovecot: Dovecot,
  user: string,
  password: string,
  overrides: Partial<MailSourceSettings> = {},
): MailSourceSettings {
  return {
    mailboxId: `mbx-${user}`,
    host: dovecot.host,
    port: dovecot.imapPort,
    security: "none",
    login: user,
    credentials: fixedCredential({ method: "password", password }),
    folder: "INBOX",
    acknowledge: { mode: "seen" },
    initialImport: "all",
    connectTimeoutMs: 5_000,
    allowInvalidCertificates: false,
    ...overrides,
  };
}

/** Polls until check() holds or the deadline passes (for state another process changes). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, deadlineMs = 5_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error("condition not met before the deadline");
    await new Promise((r) => setTimeout(r, 25));
  }
}
