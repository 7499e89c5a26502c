import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { MemorySyncContext } from "../../../test/support/memory-sync-context.js";
import { freePort } from "../../../test/support/net.js";
import { MailSourceError, type MailSource, type MailSourceSettings } from "../mail-source.js";
import { ImapSource } from "./imap-source.js";

let dovecot: Dovecot;
const open: MailSource[] = [];

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
});

afterAll(async () => {
  await dovecot?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

function newMailbox(overrides: Partial<MailSourceSettings> = {}) {
  const user = uniqueUser("imapf");
  const password = `pw-${user}`;
  dovecot.addUser(user, password);
  return { user, password, settings: mailboxSettings(dovecot, user, password, overrides) };
}

function source(settings: MailSourceSettings): ImapSource {
  const s = new ImapSource(settings);
  open.push(s);
  return s;
}

async function failureOf(p: Promise<unknown>): Promise<MailSourceError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof MailSourceError)) throw new Error(`expected a MailSourceError, got ${String(err)}`);
  return err;
}

const seen = (flags: string[] | undefined) => (flags ?? []).includes("\\Seen");

describe("IMAP crash repair", () => {
  it("acknowledges on the next sync what was committed when the connection died before the acknowledgement", async () => {
    const { user, settings } = newMailbox();
    const uid = await dovecot.append(user, testMessage("committed, then the server went away"));
    const ctx = new MemorySyncContext();
    const held = ctx.holdNextCommit();
    const first = source(settings);
    const syncing = first.sync(ctx);
    await held.reached;
    // the server goes away between the commit and the acknowledgement
    await dovecot.restart();
    held.release();
    const err = await failureOf(syncing);
    expect(err.code).toBe("closed");
    expect([...ctx.unacked]).toHaveLength(1);
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(false);

    const report = await source(settings).sync(ctx);
    expect(report).toEqual({ fetched: 0, acked: 1 });
    expect(ctx.unacked.size).toBe(0);
    expect(ctx.commits).toHaveLength(1);
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(true);
  });

  it("marks keys of an old UIDVALIDITY acknowledged without touching the server", async () => {
    const { user, settings } = newMailbox();
    const uid = await dovecot.append(user, testMessage("current"));
    const ctx = new MemorySyncContext();
    const uidValidity = await dovecot.uidValidity(user);
    await ctx.commit([{ sourceKey: "17:3", raw: Buffer.from("x"), size: 1, truncated: false, receivedAt: null }]);
    await ctx.commit([], { folder: "INBOX", uidValidity, lastUid: uid });
    await source(settings).sync(ctx);
    expect(ctx.unacked.size).toBe(0);
    expect(ctx.ackedCalls.flat()).toContain("17:3");
    // the cursor said the message was taken already; the stale key did not make it seen
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(false);
  });
});

describe("IMAP UIDVALIDITY change", () => {
  it("reads the folder again and commits the same bytes under new keys", async () => {
    const { user, settings } = newMailbox();
    const raws = [testMessage("first"), testMessage("second")];
    for (const raw of raws) await dovecot.append(user, raw);
    const ctx = new MemorySyncContext();
    await source(settings).sync(ctx);
    const before = await dovecot.uidValidity(user);

    await dovecot.resetUidValidity(user);
    const after = await dovecot.uidValidity(user);
    expect(after).not.toBe(before);

    const report = await source(settings).sync(ctx);
    expect(report.fetched).toBe(2);
    const resynced = ctx.commits.at(-1)!;
    expect(resynced.batch.map((m) => m.raw.toString())).toEqual(raws);
    expect(resynced.batch.every((m) => m.sourceKey.startsWith(`${after}:`))).toBe(true);
    expect(resynced.cursor?.uidValidity).toBe(after);
    expect(ctx.unacked.size).toBe(0);
  });
});

describe("IMAP connection failures", () => {
  it("throws closed from a pending waitForChange when Dovecot restarts, and a new source works", async () => {
    const { user, settings } = newMailbox();
    const ctx = new MemorySyncContext();
    const src = source(settings);
    await src.sync(ctx);
    const waiting = failureOf(src.waitForChange(60_000, new AbortController().signal));
    await dovecot.restart();
    const err = await waiting;
    expect(err.code).toBe("closed");
    expect(err.message).toContain(`${settings.host}:${settings.port}`);
    // the broken source stays broken
    expect((await failureOf(src.sync(ctx))).code).toBe("closed");

    await dovecot.append(user, testMessage("after restart"));
    const report = await source(settings).sync(ctx);
    expect(report.fetched).toBe(1);
  });

  it("throws closed from the next sync after Dovecot restarted between syncs", async () => {
    const { settings } = newMailbox();
    const ctx = new MemorySyncContext();
    const src = source(settings);
    await src.sync(ctx);
    await dovecot.restart();
    const err = await failureOf(src.sync(ctx));
    expect(err.code).toBe("closed");
  });

  it("throws timeout from waitForChange when the server goes silent, instead of hanging", async () => {
    const { user, settings } = newMailbox();
    const src = new ImapSource(settings, { idleRenewMs: 200, noopDeadlineMs: 500 });
    open.push(src);
    await src.sync(new MemorySyncContext());
    const waiting = failureOf(src.waitForChange(60_000, new AbortController().signal));
    const resume = await dovecot.pauseSessions(user);
    try {
      const err = await waiting;
      expect(err.code).toBe("timeout");
      expect(err.message).toContain("did not answer a NOOP within 500 ms");
    } finally {
      resume();
    }
  });

  it("reports a wrong password with the server's words while another mailbox keeps working", async () => {
    const good = newMailbox();
    const bad = newMailbox({});
    const wrong = source({ ...bad.settings, credential: { method: "password", password: "wrong" } });
    const healthy = source(good.settings);
    await dovecot.append(good.user, testMessage("still flowing"));

    const err = await failureOf(wrong.sync(new MemorySyncContext()));
    expect(err.code).toBe("auth_failed");
    expect(err.serverText).toContain("AUTHENTICATIONFAILED");
    expect(err.message).toBe(`The server refused the login for ${bad.user}: [AUTHENTICATIONFAILED] Authentication failed.`);

    const ctx = new MemorySyncContext();
    expect((await healthy.sync(ctx)).fetched).toBe(1);
  });

  it("reports connection refused", async () => {
    const { settings } = newMailbox();
    const port = await freePort();
    const err = await failureOf(source({ ...settings, port }).sync(new MemorySyncContext()));
    expect(err.code).toBe("connection_refused");
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it("reports TLS spoken to a plain port as a TLS error", async () => {
    const { settings } = newMailbox({ security: "tls" });
    const err = await failureOf(source(settings).sync(new MemorySyncContext()));
    expect(err.code).toBe("tls_error");
  });
});

describe("IMAP over TLS with a self-signed certificate", () => {
  it("works with implicit TLS when invalid certificates are allowed", async () => {
    const { user, settings } = newMailbox({ security: "tls", port: dovecot.imapsPort!, allowInvalidCertificates: true });
    await dovecot.append(user, testMessage("over tls"));
    const ctx = new MemorySyncContext();
    expect((await source(settings).sync(ctx)).fetched).toBe(1);
  });

  it("works with STARTTLS when invalid certificates are allowed", async () => {
    const { user, settings } = newMailbox({ security: "starttls", allowInvalidCertificates: true });
    await dovecot.append(user, testMessage("over starttls"));
    const ctx = new MemorySyncContext();
    expect((await source(settings).sync(ctx)).fetched).toBe(1);
  });

  it("refuses the certificate otherwise, with tls_error", async () => {
    const implicit = newMailbox({ security: "tls", port: dovecot.imapsPort! });
    const err = await failureOf(source(implicit.settings).sync(new MemorySyncContext()));
    expect(err.code).toBe("tls_error");
    expect(err.message).toMatch(/certificate/i);

    const starttls = newMailbox({ security: "starttls" });
    const err2 = await failureOf(source(starttls.settings).sync(new MemorySyncContext()));
    expect(err2.code).toBe("tls_error");
  });
});
