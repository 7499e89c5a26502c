import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../test/support/mail-fixtures.js";
import { freePort } from "../../test/support/net.js";
import { testMailSource } from "./index.js";
import { fixedCredential, type MailSourceSettings } from "./mail-source.js";

let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
});

afterAll(async () => {
  await dovecot?.stop();
});

function newMailbox(overrides: Partial<MailSourceSettings> = {}) {
  const user = uniqueUser("tester");
  const password = `pw-${user}`;
  dovecot.addUser(user, password);
  return { user, settings: mailboxSettings(dovecot, user, password, overrides) };
}

const summary = (steps: { step: string; ok: boolean }[]) => steps.map((s) => `${s.step}:${s.ok ? "ok" : "failed"}`);

describe("IMAP connection test", () => {
  it("connects, logs in and opens the folder, changing nothing", async () => {
    const { user, settings } = newMailbox({ security: "starttls", allowInvalidCertificates: true });
    const uid = await dovecot.append(user, testMessage("untouched"));
    const steps = await testMailSource("IMAP", settings);
    expect(summary(steps)).toEqual(["connect:ok", "authenticate:ok", "open_folder:ok"]);
    expect(steps.every((s) => Number.isInteger(s.ms) && s.ms >= 0)).toBe(true);
    expect(steps[0]?.message).toMatch(/^Connected to 127\.0\.0\.1:\d+ with STARTTLS \(TLSv1\.[23]\)\. The server says: /);
    expect(steps[1]?.message).toBe(`Logged in as ${user}.`);
    expect(steps[2]?.message).toBe('The folder "INBOX" opens and holds 1 message.');
    expect((await dovecot.flags(user)).get(uid)).toEqual([]);
  });

  it("stops at the step that fails, with the reason in words", async () => {
    const wrong = newMailbox();
    const badLogin = await testMailSource("IMAP", { ...wrong.settings, credentials: fixedCredential({ method: "password", password: "nope" }) });
    expect(summary(badLogin)).toEqual(["connect:ok", "authenticate:failed"]);
    expect(badLogin[1]?.message).toContain("[AUTHENTICATIONFAILED]");

    const missing = newMailbox({ folder: "Archive/2024" });
    const noFolder = await testMailSource("IMAP", missing.settings);
    expect(summary(noFolder)).toEqual(["connect:ok", "authenticate:ok", "open_folder:failed"]);
    expect(noFolder[2]?.message).toContain('"Archive/2024" does not exist');

    const moving = newMailbox({ acknowledge: { mode: "move", folder: "Done" } });
    const noTarget = await testMailSource("IMAP", moving.settings);
    expect(noTarget[2]).toMatchObject({ ok: false, message: expect.stringContaining('"Done"') });

    const refused = await testMailSource("IMAP", { ...wrong.settings, port: await freePort() });
    expect(summary(refused)).toEqual(["connect:failed"]);
    expect(refused[0]?.message).toContain("connection refused");

    const selfSigned = await testMailSource("IMAP", { ...wrong.settings, security: "tls", port: dovecot.imapsPort! });
    expect(summary(selfSigned)).toEqual(["connect:failed"]);
    expect(selfSigned[0]?.message).toMatch(/certificate/);
  });
});

describe("POP3 connection test", () => {
  it("connects, logs in and reads STAT, deleting nothing", async () => {
    const { user, settings } = newMailbox({ port: dovecot.pop3sPort!, security: "tls", allowInvalidCertificates: true, acknowledge: { mode: "delete" } });
    await dovecot.append(user, testMessage("still here"));
    const steps = await testMailSource("POP3", settings);
    expect(summary(steps)).toEqual(["connect:ok", "authenticate:ok", "open_folder:ok"]);
    expect(steps[0]?.message).toMatch(/with TLS \(TLSv1\.[23]\)\. The server says: Dovecot.* ready\./);
    expect(steps[2]?.message).toMatch(/^The maildrop holds 1 message \(\d+ bytes\)\.$/);
    expect(await dovecot.count(user)).toBe(1);
  });

  it("reports a wrong password at the authenticate step", async () => {
    const { settings } = newMailbox({ port: dovecot.pop3Port, credentials: fixedCredential({ method: "password", password: "nope" }) });
    const steps = await testMailSource("POP3", settings);
    expect(summary(steps)).toEqual(["connect:ok", "authenticate:failed"]);
    expect(steps[1]?.message).toContain("[AUTH] Authentication failed.");
  });
});
