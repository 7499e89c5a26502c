import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { testMessage } from "../../../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce, type CommitRecord, type HeldCommit, type SyncRun } from "../../../test/support/memory-sync-store.js";
import { startScriptedPop3, type ScriptedPop3 } from "../../../test/support/scripted-pop3.js";
import type { SyncLimits } from "../../runners/mailbox-sync.js";
import { MailSourceError, fixedCredential, type MailSourceSettings } from "../mail-source.js";
import { Pop3Source } from "./pop3-source.js";
import { testPop3 } from "./pop3-tester.js";

/**
 * The POP3 connector against servers that do what Dovecot does not: give a UIDL to a new message
 * (RFC 1939 allows it once the old one is gone), list one UIDL twice, know no TOP, refuse a RETR, fail
 * the QUIT. Whatever they do, a message is deleted only after its own bytes were committed.
 */

let pop3: ScriptedPop3;

beforeEach(async () => {
  pop3 = await startScriptedPop3();
});

afterEach(async () => {
  await pop3.stop();
});

function settings(overrides: Partial<MailSourceSettings> = {}): MailSourceSettings {
  return {
    mailboxId: "mbx-scripted",
    host: pop3.host,
    port: pop3.port,
    security: "none",
    login: pop3.user,
    credentials: fixedCredential({ method: "password", password: pop3.password }),
    folder: "INBOX",
    acknowledge: { mode: "delete" },
    initialImport: "all",
    connectTimeoutMs: 5_000,
    allowInvalidCertificates: false,
    ...overrides,
  };
}

/** One sync on a new source, as a runner makes after a failure; the maildrop is unlocked when it returns. */
async function sync(store: MemorySyncStore, opts: { limits?: Partial<SyncLimits>; keep?: boolean } = {}): Promise<SyncRun> {
  const source = new Pop3Source(settings(opts.keep ? { acknowledge: { mode: "keep" } } : {}));
  try {
    return await syncOnce(source, store, opts.limits ? { limits: opts.limits } : {});
  } finally {
    await source.close();
    await pop3.allClosed();
  }
}

/** The commit the sync is held in; fails instead of waiting forever when the sync ends without one. */
function reached(held: HeldCommit, running: Promise<unknown>): Promise<CommitRecord> {
  const ended = running.then(() => Promise.reject(new Error("the sync ended without committing")));
  return Promise.race([held.reached, ended]);
}

const text = (raw: Buffer) => raw.toString("latin1");
const onServer = () => pop3.maildrop.list().map((m) => text(m.raw));
const deletedByQuit = () => pop3.deleted().map(text);
/** the DELE commands the server received since `mark` (a position in its log) */
const deles = (mark = 0) => pop3.log.slice(mark).filter((line) => line.startsWith("DELE"));

/**
 * Runs a sync up to its commit and holds it there: the batch is exactly `expected`, and no DELE went out
 * before it. Release the commit, then await `running`.
 */
async function syncHeldAtCommit(store: MemorySyncStore, expected: string): Promise<{ held: HeldCommit; running: Promise<SyncRun> }> {
  const mark = pop3.log.length;
  const held = store.holdNextCommit();
  const running = sync(store);
  const record = await reached(held, running);
  expect(record.batch.messages.map((m) => text(m.raw))).toEqual([expected]);
  expect(deles(mark)).toEqual([]);
  return { held, running };
}

describe("POP3 UIDLs the server gives again", () => {
  it("stores a new message under a UIDL whose first message was deleted, and deletes it only after its commit", async () => {
    const a = testMessage("A under u1");
    pop3.maildrop.add(a, "u1");
    const store = new MemorySyncStore();
    await sync(store);
    expect(deletedByQuit()).toEqual([a]);

    const b = testMessage("B, later under u1");
    pop3.maildrop.add(b, "u1");
    const { held, running } = await syncHeldAtCommit(store, b);
    held.release();

    const { report } = await running;
    expect(report).toMatchObject({ created: 1, acked: 1 });
    expect(store.committedTexts()).toEqual([a, b]);
    expect(deletedByQuit()).toEqual([a, b]);
    expect(onServer()).toEqual([]);
  });

  it("stores two messages listed under one UIDL as two, and deletes each only after its own commit", async () => {
    const a = testMessage("twin A");
    const b = testMessage("twin B");
    pop3.maildrop.add(a, "u1");
    pop3.maildrop.add(b, "u1");
    const store = new MemorySyncStore();
    const first = store.holdNextCommit();
    const running = sync(store, { limits: { maxCount: 1 } });
    const one = await reached(first, running);
    expect(deles()).toEqual([]);
    const second = store.holdNextCommit();
    first.release();
    const two = await reached(second, running);
    // the first twin's DELE may go out now that its commit is done; the second's waits for its own
    expect(deles()).not.toContain("DELE 2");
    second.release();

    const { report } = await running;
    expect(report).toMatchObject({ created: 2, acked: 2 });
    expect([one, two].map((c) => c.batch.messages.map((m) => text(m.raw)))).toEqual([[a], [b]]);
    const keys = [one, two].map((c) => c.batch.messages[0]!.sourceKey);
    expect(keys.every((k) => /^u1#[0-9a-f]{16}$/.test(k))).toBe(true);
    expect(new Set(keys).size).toBe(2);
    expect(deles()).toEqual(["DELE 1", "DELE 2"]);
    expect(deletedByQuit()).toEqual([a, b]);
  });

  it("stores, before deleting it, a new message under the UIDL of one stored but not yet deleted", async () => {
    const a = testMessage("A, stored; its QUIT failed");
    pop3.maildrop.add(a, "u1");
    pop3.script.quitError = true;
    const store = new MemorySyncStore();
    await expect(sync(store)).rejects.toThrow(MailSourceError);
    expect(store.unacked).toEqual(new Set(["u1"]));
    expect(onServer()).toEqual([a]);

    // the server removes A after all, and gives its UIDL to a new message
    pop3.script.quitError = false;
    expect(pop3.maildrop.remove("u1")).toBe(1);
    const b = testMessage("B, new under u1");
    pop3.maildrop.add(b, "u1");
    const { held, running } = await syncHeldAtCommit(store, b);
    expect(onServer()).toEqual([b]);
    held.release();

    const { report, warnings } = await running;
    expect(report).toMatchObject({ created: 1, acked: 1 });
    expect(warnings.map((w) => w.code)).toEqual(["key_reused"]);
    expect(store.committedTexts()).toEqual([a, b]);
    expect(deletedByQuit()).toEqual([b]);
    expect(store.unacked.size).toBe(0);
  });

  it("in keep mode takes a message as new under the UIDL of one someone else removed", async () => {
    // the same size: only having seen the UIDL gone tells the two apart
    const a = "Subject: A\r\nMessage-ID: <a@example.test>\r\n\r\nfirst\r\n";
    const b = "Subject: B\r\nMessage-ID: <b@example.test>\r\n\r\nlater\r\n";
    expect(a.length).toBe(b.length);
    pop3.maildrop.add(a, "u1");
    const store = new MemorySyncStore();
    expect((await sync(store, { keep: true })).report.created).toBe(1);
    pop3.maildrop.remove("u1");
    expect((await sync(store, { keep: true })).report.created).toBe(0);

    pop3.maildrop.add(b, "u1");
    expect((await sync(store, { keep: true })).report.created).toBe(1);
    expect(store.committedTexts()).toEqual([a, b]);
    expect((await sync(store, { keep: true })).report.fetched).toBe(0);
    expect(onServer()).toEqual([b]);
    expect(deles()).toEqual([]);
  });

  it("in keep mode takes a message as new under a stored UIDL when the server lists it with another size", async () => {
    const a = testMessage("A, kept");
    pop3.maildrop.add(a, "u1");
    const store = new MemorySyncStore();
    await sync(store, { keep: true });
    // removed and reused between two syncs: no sync saw the UIDL missing
    pop3.maildrop.remove("u1");
    const b = testMessage("B, a longer message under the same UIDL");
    pop3.maildrop.add(b, "u1");

    const { report, warnings } = await sync(store, { keep: true });
    expect(report.created).toBe(1);
    expect(warnings.map((w) => w.code)).toEqual(["key_reused"]);
    expect(store.committedTexts()).toEqual([a, b]);
    expect(onServer()).toEqual([b]);
  });
});

describe("POP3 leftovers of an earlier sync", () => {
  it("deletes its own stored message after Max size changed, without storing it twice", async () => {
    const whole = testMessage("stored whole", "x".repeat(5_000));
    pop3.maildrop.add(whole, "u1");
    pop3.script.quitError = true;
    const store = new MemorySyncStore();
    await expect(sync(store)).rejects.toThrow(MailSourceError);
    expect(store.unacked).toEqual(new Set(["u1"]));
    pop3.script.quitError = false;

    // the administrator lowered Max size below the message's size before the next sync
    const { report, warnings } = await sync(store, { limits: { maxMessageBytes: 1_000 } });
    expect(store.committedMessages().map((m) => m.truncated), "stored once, as it was stored the first time").toEqual([false]);
    expect(warnings).toEqual([]);
    expect(report).toMatchObject({ created: 0, acked: 1 });
    expect(deletedByQuit()).toEqual([whole]);
  });

  it("deletes nothing a lost connection interrupted, and converges: each message stored once, the one that breaks the connection set aside", async () => {
    const one = testMessage("one");
    const dropping = testMessage("drops the connection");
    const three = testMessage("three");
    pop3.maildrop.add(one, "one");
    pop3.maildrop.add(dropping, "dropping");
    pop3.maildrop.add(three, "three");
    pop3.script.dropOnRetr = (uidl) => uidl === "dropping";
    const store = new MemorySyncStore();

    const first = await sync(store, { limits: { maxCount: 1 } }).catch((e: unknown) => e);
    expect((first as MailSourceError).code).toBe("closed");
    // "one" was committed; whether its DELE went out or not, without a QUIT nothing is deleted
    expect(deletedByQuit()).toEqual([]);
    expect(store.unacked).toEqual(new Set(["one"]));

    const failures: string[] = [];
    for (let attempt = 0; attempt < 5 && store.skipped.length === 0; attempt++) {
      const outcome = await sync(store, { limits: { maxCount: 1 } }).catch((e: unknown) => e);
      if (outcome instanceof MailSourceError) failures.push(outcome.code);
      else if (outcome instanceof Error) throw outcome;
    }
    expect(failures).toEqual(["closed", "closed"]);
    expect(store.skipped.map((r) => r.key)).toEqual(["dropping"]);
    expect(store.committedTexts()).toEqual([one, three]);
    expect(deletedByQuit()).toEqual([one, three]);
    expect(onServer()).toEqual([dropping]);
  });
});

describe("POP3 server without TOP", () => {
  it("fetches the header block of a message over Max size by a RETR whose body is dropped, and deletes it after the commit", async () => {
    pop3.script.top = false;
    const big = testMessage("too big", `${"b".repeat(30_000)}\r\n.\r\n${"more body\r\n".repeat(3_000)}`);
    const bigToo = testMessage("too big as well", "c".repeat(30_000));
    const small = testMessage("fits");
    pop3.maildrop.add(big, "big");
    pop3.maildrop.add(bigToo, "big-too");
    pop3.maildrop.add(small, "small");
    const store = new MemorySyncStore();
    const held = store.holdNextCommit();
    const running = sync(store, { limits: { maxMessageBytes: 10_000 } });
    await reached(held, running);
    expect(deles()).toEqual([]);
    held.release();
    const { report } = await running;

    expect(report).toMatchObject({ created: 3, acked: 3, skipped: 0 });
    for (const [key, raw] of [["big", big], ["big-too", bigToo]] as const) {
      const stored = store.stored.get(key)!;
      expect(stored.truncated).toBe(true);
      expect(text(stored.raw)).toBe(raw.slice(0, raw.indexOf("\r\n\r\n") + 4));
      expect(stored.size).toBe(Buffer.byteLength(raw));
    }
    expect(store.stored.get("small")).toMatchObject({ truncated: false, raw: Buffer.from(small) });
    // TOP is asked once; after its -ERR the headers come by RETR
    expect(pop3.log.filter((line) => /^(TOP|RETR) [12]\b/.test(line))).toEqual(["TOP 1 0", "RETR 1", "RETR 2"]);
    expect(deletedByQuit().sort()).toEqual([big, bigToo, small].sort());
  });
});

describe("POP3 failures mid-sync", () => {
  it("sets aside a message whose RETR the server refuses, never deletes it, and takes and deletes the others", async () => {
    pop3.script.retrError = (uidl) => (uidl === "damaged" ? "[SYS/PERM] message file is damaged" : null);
    const one = testMessage("one");
    const damaged = testMessage("damaged");
    const three = testMessage("three");
    pop3.maildrop.add(one, "one");
    pop3.maildrop.add(damaged, "damaged");
    pop3.maildrop.add(three, "three");
    const store = new MemorySyncStore();

    const { report, warnings } = await sync(store);
    expect(report).toMatchObject({ created: 2, acked: 2, skipped: 1 });
    expect(warnings.map((w) => w.code)).toEqual(["message_skipped"]);
    expect(warnings[0]!.message).toContain("message file is damaged");
    expect(store.skipped.map((r) => r.key)).toEqual(["damaged"]);
    expect(deles()).toEqual(["DELE 1", "DELE 3"]);
    expect(deletedByQuit()).toEqual([one, three]);
    expect(onServer()).toEqual([damaged]);

    const later = testMessage("later");
    pop3.maildrop.add(later, "later");
    const mark = pop3.log.length;
    const next = await sync(store);
    expect(next.report).toMatchObject({ created: 1, acked: 1, skipped: 0 });
    // the damaged message is message 1 now: neither asked for again nor deleted
    expect(pop3.log.slice(mark).filter((line) => /^(RETR|TOP|DELE) /.test(line))).toEqual(["RETR 2", "DELE 2"]);
    expect(onServer()).toEqual([damaged]);
    expect(deletedByQuit()).toEqual([one, three, later]);
  });

  it("applies the deletions of batches already committed when a later batch's commit throws", async () => {
    const one = testMessage("one");
    const two = testMessage("two");
    pop3.maildrop.add(one, "one");
    pop3.maildrop.add(two, "two");
    const store = new MemorySyncStore();
    const first = store.holdNextCommit();
    const running = sync(store, { limits: { maxCount: 1 } });
    await reached(first, running);
    const second = store.holdNextCommit();
    first.release();
    await reached(second, running);
    second.fail(new Error("disk full"));
    await expect(running).rejects.toThrow("disk full");

    expect(pop3.log.at(-1)).toBe("QUIT");
    expect(deletedByQuit()).toEqual([one]);
    expect(onServer()).toEqual([two]);
    expect(store.unacked.size).toBe(0);

    const { report } = await sync(store);
    expect(report).toMatchObject({ created: 1, acked: 1 });
    expect(deletedByQuit()).toEqual([one, two]);
  });
});

describe("POP3 logins and passwords with line breaks (stored before the API refused them)", () => {
  it("sends no command with a line break: the connection test and a sync fail at the login, and nothing is deleted", async () => {
    pop3.maildrop.add(testMessage("keep me"));
    const steps = await testPop3(settings({ login: `${pop3.user}\r\nDELE 1` }));
    const login = steps.find((s) => s.step === "authenticate");
    expect(login).toMatchObject({ ok: false, message: expect.stringMatching(/line break or NUL/) });
    await pop3.allClosed();

    const source = new Pop3Source(settings({ credentials: fixedCredential({ method: "password", password: `${pop3.password}\nDELE 1` }) }));
    try {
      const err = await syncOnce(source, new MemorySyncStore()).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MailSourceError);
      expect(err).toMatchObject({ code: "auth_failed" });
    } finally {
      await source.close();
      await pop3.allClosed();
    }
    expect(pop3.log.filter((line) => /DELE/i.test(line))).toEqual([]);
    expect(pop3.maildrop.count).toBe(1);
    expect(pop3.deleted()).toEqual([]);
  });
});
