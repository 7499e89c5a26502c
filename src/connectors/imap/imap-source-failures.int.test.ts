import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bareClient } from "../../../test/support/bare-imap-client.js";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { startImapFaultProxy, type ImapFaultProxy } from "../../../test/support/imap-fault-proxy.js";
import { mailboxSettings, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../../../test/support/memory-sync-store.js";
import { freePort } from "../../../test/support/net.js";
import { MailSourceError, fixedCredential, type MailSource, type MailSourceSettings } from "../mail-source.js";
import { ServerWordsLog } from "./imap-client.js";
import { parseImapCursor } from "./imap-keys.js";
import { ImapSession } from "./imap-session.js";
import { ImapSource } from "./imap-source.js";

let dovecot: Dovecot;
let proxy: ImapFaultProxy;
const open: MailSource[] = [];

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
  proxy = await startImapFaultProxy({ targetHost: dovecot.host, targetPort: dovecot.imapPort });
});

afterAll(async () => {
  await proxy?.stop();
  await dovecot?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  proxy.faults.failStoreSeen = false;
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
const subjectOf = (raw: Buffer) => /^Subject: (.*)$/m.exec(raw.toString("latin1"))?.[1]?.trim() ?? "";

describe("IMAP crash repair", () => {
  it("acknowledges on the next sync what was committed when the server went away before the acknowledgement", async () => {
    const { user, settings } = newMailbox();
    const uid = await dovecot.append(user, testMessage("committed, then the server went away"));
    const store = new MemorySyncStore();
    const held = store.holdNextCommit();
    const syncing = syncOnce(source(settings), store);
    await held.reached;
    await dovecot.restart();
    held.release();
    // a lost connection, not a refusal: the key stays pending rather than being marked refused
    const err = await failureOf(syncing);
    expect(err.code).toBe("closed");
    expect([...store.unacked]).toHaveLength(1);
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(false);

    const { report } = await syncOnce(source(settings), store, { firstOnConnection: false });
    expect(report).toMatchObject({ fetched: 0, acked: 1 });
    expect(store.unacked.size).toBe(0);
    expect(store.commits).toHaveLength(1);
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(true);
  });

  it("marks keys of an old UIDVALIDITY acknowledged without touching the server", async () => {
    const { user, settings } = newMailbox();
    const uid = await dovecot.append(user, testMessage("current"));
    const uidValidity = await dovecot.uidValidity(user);
    const store = new MemorySyncStore();
    const stale = { sourceKey: "17:3", raw: Buffer.from("Subject: stale\r\n\r\nx\r\n"), size: 21, truncated: false, receivedAt: null };
    await store.commit({ messages: [stale], skipped: [], cursor: JSON.stringify({ uidValidity, lastUid: uid }), epoch: "17", reread: false, prepared: null });

    const { report } = await syncOnce(source(settings), store);
    expect(report).toMatchObject({ fetched: 0, acked: 1 });
    expect(store.unacked.size).toBe(0);
    expect(store.rows.find((r) => r.key === "17:3")?.ack).toBe("done");
    // the cursor said the message was taken already; the stale key did not make it seen
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(false);
  });
});

describe("IMAP UIDVALIDITY change", () => {
  it("with initialImport all reads the whole folder again under the new keys, as a re-read", async () => {
    const { user, settings } = newMailbox();
    const raws = [testMessage("first"), testMessage("second")];
    for (const raw of raws) await dovecot.append(user, raw);
    const store = new MemorySyncStore();
    await syncOnce(source(settings), store);
    const before = await dovecot.uidValidity(user);

    await dovecot.resetUidValidity(user);
    const after = await dovecot.uidValidity(user);
    expect(after).not.toBe(before);

    // both are \Seen now; with "all" the re-read lists them anyway and the store's content matching decides
    const { report } = await syncOnce(source(settings), store);
    expect(report.fetched).toBe(2);
    const reread = store.commits.slice(1);
    expect(reread.flatMap((c) => c.batch.messages.map((m) => m.raw.toString())).sort()).toEqual([...raws].sort());
    expect(reread.every((c) => c.batch.reread && c.batch.epoch === after)).toBe(true);
    expect(reread.flatMap((c) => c.batch.messages).every((m) => m.sourceKey.startsWith(`${after}:`))).toBe(true);
    expect(parseImapCursor(store.cursor)?.uidValidity).toBe(after);
    expect(store.unacked.size).toBe(0);
  });

  it("with initialImport unseen re-reads only unseen mail: what was read stays out, unseen mail stored before is matched, new mail is taken", async () => {
    const { user, password, settings } = newMailbox({ initialImport: "unseen" });
    await dovecot.append(user, testMessage("read before Mailroom"), ["\\Seen"]);
    await dovecot.append(user, testMessage("taken"));
    const unreadAgainUid = await dovecot.append(user, testMessage("taken, then marked unread"));
    const store = new MemorySyncStore();
    await syncOnce(source(settings), store);
    expect(store.committedMessages().map((m) => subjectOf(m.raw))).toEqual(["taken", "taken, then marked unread"]);
    // an agent marks one of the taken messages unread again in their own mail client
    const agent = bareClient(dovecot.imapPort, user, password);
    await agent.connect();
    await agent.mailboxOpen("INBOX");
    await agent.messageFlagsRemove(String(unreadAgainUid), ["\\Seen"], { uid: true });
    await agent.logout();

    await dovecot.resetUidValidity(user);
    const after = await dovecot.uidValidity(user);
    await dovecot.append(user, testMessage("new and unread"));

    const { report } = await syncOnce(source(settings), store);
    const reread = store.commits.slice(1).flatMap((c) => c.batch.messages);
    expect(reread.map((m) => subjectOf(m.raw)).sort()).toEqual(["new and unread", "taken, then marked unread"]);
    expect(report.fetched).toBe(2);
    // the store matches the one stored before by its bytes because the commit says it is a re-read
    expect(store.commits.slice(1).every((c) => c.batch.reread && c.batch.epoch === after)).toBe(true);
    const flags = await dovecot.flags(user);
    expect([...flags.values()].every(seen)).toBe(true);
    expect(parseImapCursor(store.cursor)).toEqual({ uidValidity: after, lastUid: Math.max(...flags.keys()) });

    // the re-read is over: mail arriving \Seen is new mail again
    await dovecot.append(user, testMessage("read by someone, but new"), ["\\Seen"]);
    const next = await syncOnce(source(settings), store);
    expect(next.report.fetched).toBe(1);
    expect(subjectOf(store.committedMessages().at(-1)!.raw)).toBe("read by someone, but new");
  });
});

describe("IMAP acknowledgement refused", () => {
  it("stores the messages, warns, and keeps taking new mail while the server refuses \\Seen; a runner restart marks them once allowed", async () => {
    const { user, settings } = newMailbox();
    const through = { ...settings, port: proxy.port };
    const uids = [await dovecot.append(user, testMessage("refused 1")), await dovecot.append(user, testMessage("refused 2"))];
    proxy.faults.failStoreSeen = true;
    const store = new MemorySyncStore();
    const running = source(through);

    const first = await syncOnce(running, store);
    expect(first.report).toMatchObject({ fetched: 2, created: 2, acked: 0 });
    expect(first.warnings.map((w) => w.code)).toEqual(["ack_refused"]);
    expect(first.warnings[0]!.message).toContain("[NOPERM] Permission denied");
    expect(store.rows.map((r) => r.ack)).toEqual(["refused", "refused"]);
    let flags = await dovecot.flags(user);
    expect(uids.map((u) => seen(flags.get(u)))).toEqual([false, false]);

    uids.push(await dovecot.append(user, testMessage("arrives meanwhile")));
    const second = await syncOnce(running, store, { firstOnConnection: false });
    expect(second.report).toMatchObject({ fetched: 1, created: 1 });
    expect(store.committedMessages().map((m) => subjectOf(m.raw))).toEqual(["refused 1", "refused 2", "arrives meanwhile"]);

    proxy.faults.failStoreSeen = false;
    await running.close();
    const restarted = await syncOnce(source(through), store, { firstOnConnection: true });
    expect(restarted.report).toMatchObject({ fetched: 0, acked: 3 });
    expect(restarted.warnings).toEqual([]);
    flags = await dovecot.flags(user);
    expect(uids.map((u) => seen(flags.get(u)))).toEqual([true, true, true]);
    expect(store.rows.every((r) => r.ack === "done")).toBe(true);
  });
});

describe("IMAP server saying BYE right before the acknowledgement", () => {
  it("takes it for the lost connection it is, not for a refusal (imapflow answers false without asking the server)", async () => {
    const { user, password, settings } = newMailbox();
    const uid = await dovecot.append(user, testMessage("bye"));
    const client = bareClient(proxy.port, user, password);
    client.on("error", () => undefined);
    await client.connect();
    const lock = await client.getMailboxLock("INBOX");
    const words = new ServerWordsLog();
    const session = new ImapSession(client, { ...settings, port: proxy.port }, lock, words, () => undefined);
    const key = `${await dovecot.uidValidity(user)}:${uid}`;

    proxy.sayBye();
    // act in the same turn of the event loop in which the client read the BYE, before it closes
    while (!client.byeReason) await new Promise((resolve) => setImmediate(resolve));
    const outcome = session.acknowledge([key]);
    await expect(outcome).rejects.toMatchObject({ code: "closed" });
    client.close();
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(false);
  });
});

describe("IMAP message that breaks the connection", () => {
  it("takes the others as the runner reconnects, and sets it aside after 3 broken fetches, unread", async () => {
    const { user, settings } = newMailbox();
    const before = await dovecot.append(user, testMessage("before"));
    const broken = await dovecot.append(user, testMessage("broken", "BROKEN-ON-DISK"));
    const after = await dovecot.append(user, testMessage("after"));
    // Dovecot drops the connection when a FETCH reaches a message file it cannot read
    expect(dovecot.makeUnreadable(user, "BROKEN-ON-DISK")).toHaveLength(1);
    const store = new MemorySyncStore();

    const failures: string[] = [];
    for (let sync = 0; sync < 6 && store.skipped.length === 0; sync++) {
      // a runner starts every sync after a failure on a new connection
      const attempt = source(settings);
      const outcome = await syncOnce(attempt, store, { firstOnConnection: sync === 0 }).catch((e: unknown) => e);
      if (outcome instanceof MailSourceError) failures.push(outcome.code);
      else if (outcome instanceof Error) throw outcome;
      await attempt.close();
    }
    expect(failures).toEqual(["closed", "closed", "closed"]);
    expect(store.skipped.map((r) => r.key)).toEqual([`${await dovecot.uidValidity(user)}:${broken}`]);
    expect(store.skipped[0]!.reason).toMatch(/broke the connection 3 times/);
    expect(store.committedMessages().map((m) => subjectOf(m.raw)).sort()).toEqual(["after", "before"]);
    let flags = await dovecot.flags(user);
    expect([before, broken, after].map((u) => seen(flags.get(u)))).toEqual([true, false, true]);

    const later = await dovecot.append(user, testMessage("later"));
    const next = await syncOnce(source(settings), store, { firstOnConnection: false });
    expect(next.report).toMatchObject({ created: 1, skipped: 0 });
    flags = await dovecot.flags(user);
    expect([broken, later].map((u) => seen(flags.get(u)))).toEqual([false, true]);
  });
});

describe("IMAP connection failures", () => {
  it("throws closed from a pending waitForChange when Dovecot restarts, and a new source works", async () => {
    const { user, settings } = newMailbox();
    const store = new MemorySyncStore();
    const src = source(settings);
    await syncOnce(src, store);
    const waiting = failureOf(src.waitForChange(60_000, new AbortController().signal));
    await dovecot.restart();
    const err = await waiting;
    expect(err.code).toBe("closed");
    expect(err.message).toContain(`${settings.host}:${settings.port}`);
    // the broken source stays broken
    expect((await failureOf(syncOnce(src, store))).code).toBe("closed");

    await dovecot.append(user, testMessage("after restart"));
    const { report } = await syncOnce(source(settings), store);
    expect(report.fetched).toBe(1);
  });

  it("throws closed from the next sync after Dovecot restarted between syncs", async () => {
    const { settings } = newMailbox();
    const store = new MemorySyncStore();
    const src = source(settings);
    await syncOnce(src, store);
    await dovecot.restart();
    const err = await failureOf(syncOnce(src, store));
    expect(err.code).toBe("closed");
  });

  it("throws timeout from waitForChange when the server goes silent, instead of hanging", async () => {
    const { user, settings } = newMailbox();
    const src = new ImapSource(settings, { idleRenewMs: 200, noopDeadlineMs: 500 });
    open.push(src);
    await syncOnce(src, new MemorySyncStore());
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
    const wrong = source({ ...bad.settings, credentials: fixedCredential({ method: "password", password: "wrong" }) });
    const healthy = source(good.settings);
    await dovecot.append(good.user, testMessage("still flowing"));

    const err = await failureOf(syncOnce(wrong, new MemorySyncStore()));
    expect(err.code).toBe("auth_failed");
    expect(err.serverText).toContain("AUTHENTICATIONFAILED");
    expect(err.message).toBe(`The server refused the login for ${bad.user}: [AUTHENTICATIONFAILED] Authentication failed.`);

    expect((await syncOnce(healthy, new MemorySyncStore())).report.fetched).toBe(1);
  });

  it("reports connection refused", async () => {
    const { settings } = newMailbox();
    const port = await freePort();
    const err = await failureOf(syncOnce(source({ ...settings, port }), new MemorySyncStore()));
    expect(err.code).toBe("connection_refused");
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it("reports TLS spoken to a plain port as a TLS error", async () => {
    const { settings } = newMailbox({ security: "tls" });
    const err = await failureOf(syncOnce(source(settings), new MemorySyncStore()));
    expect(err.code).toBe("tls_error");
  });
});

describe("IMAP over TLS with a self-signed certificate", () => {
  it("works with implicit TLS when invalid certificates are allowed", async () => {
    const { user, settings } = newMailbox({ security: "tls", port: dovecot.imapsPort!, allowInvalidCertificates: true });
    await dovecot.append(user, testMessage("over tls"));
    expect((await syncOnce(source(settings), new MemorySyncStore())).report.fetched).toBe(1);
  });

  it("works with STARTTLS when invalid certificates are allowed", async () => {
    const { user, settings } = newMailbox({ security: "starttls", allowInvalidCertificates: true });
    await dovecot.append(user, testMessage("over starttls"));
    expect((await syncOnce(source(settings), new MemorySyncStore())).report.fetched).toBe(1);
  });

  it("refuses the certificate otherwise, with tls_error", async () => {
    const implicit = newMailbox({ security: "tls", port: dovecot.imapsPort! });
    const err = await failureOf(syncOnce(source(implicit.settings), new MemorySyncStore()));
    expect(err.code).toBe("tls_error");
    expect(err.message).toMatch(/certificate/i);

    const starttls = newMailbox({ security: "starttls" });
    const err2 = await failureOf(syncOnce(source(starttls.settings), new MemorySyncStore()));
    expect(err2.code).toBe("tls_error");
  });
});
