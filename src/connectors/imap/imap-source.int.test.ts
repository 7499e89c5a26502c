import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { eventually, mailboxSettings, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../../../test/support/memory-sync-store.js";
import { MailSourceError, type MailSource, type MailSourceSettings } from "../mail-source.js";
import { parseImapCursor } from "./imap-keys.js";
import { ImapSource, type ImapSourceOptions } from "./imap-source.js";

/**
 * What the IMAP connector does beyond the shared contract (mail-source-contract.ts): its keys and
 * cursor, the first-import rule, batches and windows over one connection, moving, IDLE.
 */

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

function newUser(): { user: string; password: string } {
  const user = uniqueUser("imap");
  const password = `pw-${user}`;
  dovecot.addUser(user, password);
  return { user, password };
}

function source(settings: MailSourceSettings, options?: ImapSourceOptions): ImapSource {
  const s = new ImapSource(settings, options);
  open.push(s);
  return s;
}

function mailbox(overrides: Partial<MailSourceSettings> = {}, options?: ImapSourceOptions) {
  const { user, password } = newUser();
  const settings = mailboxSettings(dovecot, user, password, overrides);
  return { user, password, settings, source: source(settings, options) };
}

const seen = (flags: string[] | undefined) => (flags ?? []).includes("\\Seen");
const cursorOf = (store: MemorySyncStore) => parseImapCursor(store.cursor);
const subjects = (store: MemorySyncStore) => store.committedTexts().map(subjectOf);

describe("IMAP sync", () => {
  it("keys messages by UIDVALIDITY and UID, keeps INTERNALDATE, and stores the cursor past the last UID", async () => {
    const { user, source: src } = mailbox();
    const raws = [testMessage("one"), testMessage("two"), testMessage("three")];
    const uids: number[] = [];
    for (const raw of raws) uids.push(await dovecot.append(user, raw));
    const store = new MemorySyncStore();

    const { report } = await syncOnce(src, store);

    expect(report).toMatchObject({ fetched: 3, created: 3, acked: 3 });
    expect(store.committedTexts()).toEqual(raws);
    const uidValidity = await dovecot.uidValidity(user);
    expect(store.committedMessages().map((m) => m.sourceKey)).toEqual(uids.map((u) => `${uidValidity}:${u}`));
    expect(store.committedMessages().every((m) => !m.truncated && m.receivedAt instanceof Date && m.size === m.raw.length)).toBe(true);
    expect(store.commits.map((c) => c.batch.epoch)).toEqual([uidValidity]);
    expect(cursorOf(store)).toEqual({ uidValidity, lastUid: uids[2] });
    const flags = await dovecot.flags(user);
    expect(uids.every((u) => seen(flags.get(u)))).toBe(true);

    // nothing new: the next sync over the same connection fetches and commits nothing
    expect((await syncOnce(src, store)).report).toMatchObject({ fetched: 0, created: 0, acked: 0 });
    expect(store.commits).toHaveLength(1);
  });

  it("with initialImport unseen takes only unseen mail on the first sync, and all new mail after it", async () => {
    const { user, source: src } = mailbox({ initialImport: "unseen" });
    await dovecot.append(user, testMessage("old and read"), ["\\Seen"]);
    const unseenUid = await dovecot.append(user, testMessage("old and unread"));
    await dovecot.append(user, testMessage("old and read too"), ["\\Seen"]);
    const store = new MemorySyncStore();

    await syncOnce(src, store);
    expect(subjects(store)).toEqual(["old and unread"]);
    expect(seen((await dovecot.flags(user)).get(unseenUid))).toBe(true);

    // a message that arrives already \Seen (another client read it) is still new mail
    await dovecot.append(user, testMessage("new but read"), ["\\Seen"]);
    await dovecot.append(user, testMessage("new"));
    await syncOnce(src, store);
    expect(subjects(store)).toEqual(["old and unread", "new but read", "new"]);
  });

  it("records the cursor on a first unseen import that finds nothing unseen", async () => {
    const { user, source: src } = mailbox({ initialImport: "unseen" });
    const readUid = await dovecot.append(user, testMessage("read"), ["\\Seen"]);
    const store = new MemorySyncStore();
    await syncOnce(src, store);
    expect(store.committedMessages()).toHaveLength(0);
    expect(cursorOf(store)?.lastUid).toBe(readUid);
    await dovecot.append(user, testMessage("later"));
    await syncOnce(src, store);
    expect(subjects(store)).toEqual(["later"]);
  });

  it("fetches in several batches, in UID order, with a cursor per batch", async () => {
    const { user, source: src } = mailbox();
    const sent = ["m1", "m2", "m3", "m4", "m5"];
    const uids: number[] = [];
    for (const s of sent) uids.push(await dovecot.append(user, testMessage(s)));
    const store = new MemorySyncStore();
    const { report } = await syncOnce(src, store, { limits: { maxCount: 2 } });
    expect(report.fetched).toBe(5);
    expect(store.commits.map((c) => c.batch.messages.length)).toEqual([2, 2, 1]);
    expect(subjects(store)).toEqual(sent);
    expect(store.commits.map((c) => parseImapCursor(c.batch.cursor)?.lastUid)).toEqual([uids[1], uids[3], uids[4]]);
  });

  it("fetches the next batch over the same connection while the one before is still committing", async () => {
    const { user, source: src } = mailbox();
    for (const s of ["p1", "p2", "p3", "p4", "p5"]) await dovecot.append(user, testMessage(s));
    const store = new MemorySyncStore();
    const first = store.holdNextCommit();
    const syncing = syncOnce(src, store, { limits: { maxCount: 2 } });
    await first.reached;
    await eventually(async () => store.prepared.length >= 2);
    expect(store.commits).toHaveLength(0);
    first.release();
    await syncing;
    expect(store.prepared.map((p) => p.keys)).toEqual(store.commits.map((c) => c.batch.messages.map((m) => m.sourceKey)));
    expect(subjects(store)).toEqual(["p1", "p2", "p3", "p4", "p5"]);
  });

  it("looks sizes up window by window on a large folder, skipping nothing between windows", async () => {
    const { user, source: src } = mailbox({ initialImport: "unseen" });
    const sent = ["w1", "w2", "w3", "w4", "w5"];
    for (const s of sent) await dovecot.append(user, testMessage(s));
    const readUid = await dovecot.append(user, testMessage("read"), ["\\Seen"]);
    const store = new MemorySyncStore();
    await syncOnce(src, store, { limits: { window: 2, maxCount: 10 } });
    expect(store.commits.map((c) => c.batch.messages.length)).toEqual([2, 2, 1]);
    expect(subjects(store)).toEqual(sent);
    // the cursor covers the read message after the last unseen one
    expect(cursorOf(store)?.lastUid).toBe(readUid);
  });

  it("answers the sizes of every key asked, also of more than one command's worth (200)", async () => {
    const { user, source: src } = mailbox();
    const raws = Array.from({ length: 450 }, (_, i) => Buffer.from(testMessage(`s${i}`) + "x".repeat(i)));
    await dovecot.deliver(user, raws);
    const session = await src.open();
    try {
      const { keys } = await session.list(null);
      expect(keys).toHaveLength(450);
      const sizes = await session.sizes(keys);
      expect(keys.map((k) => sizes.get(k))).toEqual(raws.map((r) => r.length));
    } finally {
      await session.finish();
    }
  });

  it("keeps what committed before a failing batch, with its cursor, and resumes after it", async () => {
    const { user, source: src } = mailbox();
    const uids: number[] = [];
    for (const s of ["b1", "b2", "b3", "b4", "b5"]) uids.push(await dovecot.append(user, testMessage(s)));
    const store = new MemorySyncStore();
    const first = store.holdNextCommit();
    const syncing = syncOnce(src, store, { limits: { maxCount: 2 } });
    await first.reached;
    const second = store.holdNextCommit();
    first.release();
    await second.reached;
    second.fail(new Error("constraint violated"));
    await expect(syncing).rejects.toThrow("constraint violated");

    const flags = await dovecot.flags(user);
    expect(uids.map((u) => seen(flags.get(u)))).toEqual([true, true, false, false, false]);
    expect(cursorOf(store)?.lastUid).toBe(uids[1]);

    await syncOnce(src, store);
    expect(subjects(store)).toEqual(["b1", "b2", "b3", "b4", "b5"]);
    const after = await dovecot.flags(user);
    expect(uids.every((u) => seen(after.get(u)))).toBe(true);
  });
});

describe("IMAP acknowledge by moving", () => {
  it("moves committed messages to the folder, unread", async () => {
    const { user, source: src } = mailbox({ acknowledge: { mode: "move", folder: "Processed" } });
    await dovecot.createFolder(user, "Processed");
    const raws = [testMessage("to move 1"), testMessage("to move 2")];
    for (const raw of raws) await dovecot.append(user, raw);
    const store = new MemorySyncStore();

    const { report } = await syncOnce(src, store);
    expect(report).toMatchObject({ fetched: 2, created: 2, acked: 2 });
    expect(await dovecot.count(user)).toBe(0);
    const moved = await dovecot.sources(user, "Processed");
    expect([...moved.values()].map((b) => b.toString())).toEqual(raws);
    // moved mail keeps its unread state: it was never fetched without PEEK
    expect([...(await dovecot.flags(user, "Processed")).values()].some(seen)).toBe(false);
    expect(store.unacked.size).toBe(0);
  });

  it("reports a missing move folder in words, before taking any mail", async () => {
    const { user, source: src } = mailbox({ acknowledge: { mode: "move", folder: "Nowhere" } });
    await dovecot.append(user, testMessage("stays"));
    const store = new MemorySyncStore();
    const err = await syncOnce(src, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailSourceError);
    expect((err as MailSourceError).code).toBe("folder_missing");
    expect((err as MailSourceError).message).toContain('"Nowhere"');
    expect(store.commits).toHaveLength(0);
    expect(await dovecot.count(user)).toBe(1);
  });

  it("reports a missing folder to read", async () => {
    const { source: src } = mailbox({ folder: "Support/Missing" });
    const err = await syncOnce(src, new MemorySyncStore()).catch((e: unknown) => e);
    expect((err as MailSourceError).code).toBe("folder_missing");
    expect((err as MailSourceError).message).toContain('"Support/Missing"');
  });
});

describe("IMAP IDLE", () => {
  it("resolves waitForChange with changed when a message is appended", async () => {
    const { user, source: src } = mailbox();
    const store = new MemorySyncStore();
    await syncOnce(src, store);
    const waiting = src.waitForChange(30_000, new AbortController().signal);
    await dovecot.append(user, testMessage("pushed"));
    expect(await waiting).toBe("changed");
    await syncOnce(src, store);
    expect(subjects(store)).toEqual(["pushed"]);
  });

  it("answers timeout and aborted", async () => {
    const { source: src } = mailbox();
    await syncOnce(src, new MemorySyncStore());
    expect(await src.waitForChange(50, new AbortController().signal)).toBe("timeout");
    const ac = new AbortController();
    const waiting = src.waitForChange(30_000, ac.signal);
    ac.abort();
    expect(await waiting).toBe("aborted");
  });

  it("keeps seeing new mail across IDLE renewals", async () => {
    const { user, source: src } = mailbox({}, { idleRenewMs: 150 });
    await syncOnce(src, new MemorySyncStore());
    const waiting = src.waitForChange(30_000, new AbortController().signal);
    // several renewals (each a NOOP and a new IDLE) pass before the message arrives
    await eventually(async () => src.idleRenewals >= 3);
    await dovecot.append(user, testMessage("after renewals"));
    expect(await waiting).toBe("changed");
  });
});

function subjectOf(raw: string): string {
  return /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? "";
}
