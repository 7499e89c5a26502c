import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../../../test/support/dovecot.js";
import { eventually, mailboxSettings, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { MemorySyncContext } from "../../../test/support/memory-sync-context.js";
import { MailSourceError, type MailSource, type MailSourceSettings } from "../mail-source.js";
import { ImapSource, type ImapSourceOptions } from "./imap-source.js";

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

describe("IMAP sync", () => {
  it("imports the mail present before the first sync and marks it seen after the commit", async () => {
    const { user, source: src } = mailbox();
    const raws = [testMessage("one"), testMessage("two"), testMessage("three")];
    const uids: number[] = [];
    for (const raw of raws) uids.push(await dovecot.append(user, raw));
    const ctx = new MemorySyncContext();

    const report = await src.sync(ctx);

    expect(report).toEqual({ fetched: 3, acked: 3 });
    expect(ctx.committedTexts()).toEqual(raws);
    const uidValidity = await dovecot.uidValidity(user);
    expect(ctx.committedMessages().map((m) => m.sourceKey)).toEqual(uids.map((u) => `${uidValidity}:${u}`));
    expect(ctx.committedMessages().every((m) => !m.truncated && m.receivedAt instanceof Date && m.size === m.raw.length)).toBe(true);
    expect(ctx.cursors.get("INBOX")).toEqual({ folder: "INBOX", uidValidity, lastUid: uids[2] });
    expect(ctx.unacked.size).toBe(0);
    const flags = await dovecot.flags(user);
    expect(uids.every((u) => seen(flags.get(u)))).toBe(true);

    // nothing new: the next sync commits nothing
    expect(await src.sync(ctx)).toEqual({ fetched: 0, acked: 0 });
    expect(ctx.commits).toHaveLength(1);
  });

  it("with initialImport unseen takes only unseen mail on the first sync, and all new mail after it", async () => {
    const { user, source: src } = mailbox({ initialImport: "unseen" });
    await dovecot.append(user, testMessage("old and read"), ["\\Seen"]);
    const unseenUid = await dovecot.append(user, testMessage("old and unread"));
    await dovecot.append(user, testMessage("old and read too"), ["\\Seen"]);
    const ctx = new MemorySyncContext();

    await src.sync(ctx);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["old and unread"]);
    expect(seen((await dovecot.flags(user)).get(unseenUid))).toBe(true);

    // a message that arrives already \Seen (another client read it) is still new mail
    await dovecot.append(user, testMessage("new but read"), ["\\Seen"]);
    await dovecot.append(user, testMessage("new"));
    await src.sync(ctx);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["old and unread", "new but read", "new"]);
  });

  it("records the cursor on a first unseen import that finds nothing unseen", async () => {
    const { user, source: src } = mailbox({ initialImport: "unseen" });
    const readUid = await dovecot.append(user, testMessage("read"), ["\\Seen"]);
    const ctx = new MemorySyncContext();
    await src.sync(ctx);
    expect(ctx.committedMessages()).toHaveLength(0);
    expect(ctx.cursors.get("INBOX")?.lastUid).toBe(readUid);
    await dovecot.append(user, testMessage("later"));
    await src.sync(ctx);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["later"]);
  });

  it("sets \\Seen only after the commit resolved", async () => {
    const { user, source: src } = mailbox();
    const uid = await dovecot.append(user, testMessage("held"));
    const ctx = new MemorySyncContext();
    const held = ctx.holdNextCommit();

    const syncing = src.sync(ctx);
    const record = await held.reached;
    expect(record.batch.map((m) => subjectOf(m.raw.toString()))).toEqual(["held"]);
    // the message has been fetched and is being committed: the server must not show it read yet
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(false);

    held.release();
    await syncing;
    expect(seen((await dovecot.flags(user)).get(uid))).toBe(true);
  });

  it("acknowledges nothing when the commit throws, and takes the same messages again", async () => {
    const { user, source: src } = mailbox();
    const uids = [await dovecot.append(user, testMessage("a")), await dovecot.append(user, testMessage("b"))];
    const ctx = new MemorySyncContext();
    ctx.failNextCommit(new Error("database is locked"));

    await expect(src.sync(ctx)).rejects.toThrow("database is locked");
    const flags = await dovecot.flags(user);
    expect(uids.some((u) => seen(flags.get(u)))).toBe(false);
    expect(ctx.commits).toHaveLength(0);

    const report = await src.sync(ctx);
    expect(report).toEqual({ fetched: 2, acked: 2 });
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["a", "b"]);
    const after = await dovecot.flags(user);
    expect(uids.every((u) => seen(after.get(u)))).toBe(true);
  });

  it("fetches in several batches, in UID order, with a cursor per batch", async () => {
    const { user, source: src } = mailbox({}, { maxCount: 2 });
    const subjects = ["m1", "m2", "m3", "m4", "m5"];
    for (const s of subjects) await dovecot.append(user, testMessage(s));
    const ctx = new MemorySyncContext();
    const report = await src.sync(ctx);
    expect(report.fetched).toBe(5);
    expect(ctx.commits.map((c) => c.batch.length)).toEqual([2, 2, 1]);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(subjects);
    const lastUids = ctx.commits.map((c) => c.cursor?.lastUid ?? 0);
    expect([...lastUids].sort((a, b) => a - b)).toEqual(lastUids);
  });

  it("hands each batch to prepare as soon as it is fetched, the next one while the one before is still committing", async () => {
    const { user, source: src } = mailbox({}, { maxCount: 2 });
    for (const s of ["p1", "p2", "p3", "p4", "p5"]) await dovecot.append(user, testMessage(s));
    const ctx = new MemorySyncContext();
    const first = ctx.holdNextCommit();
    const syncing = src.sync(ctx);
    await first.reached;
    await eventually(async () => ctx.prepared.length === 2, 5_000);
    expect(ctx.commits).toHaveLength(0);
    first.release();
    await syncing;
    // commit() gets the very arrays prepare() got, in the same order
    expect(ctx.prepared.map((p) => p.batch)).toEqual(ctx.commits.map((c) => c.batch));
    expect(ctx.prepared.every((p, i) => p.batch === ctx.commits[i]!.batch)).toBe(true);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["p1", "p2", "p3", "p4", "p5"]);
  });

  it("looks sizes up window by window on a large folder, skipping nothing between windows", async () => {
    const { user, source: src } = mailbox({ initialImport: "unseen" }, { sizeWindow: 2, maxCount: 10 });
    const subjects = ["w1", "w2", "w3", "w4", "w5"];
    for (const s of subjects) await dovecot.append(user, testMessage(s));
    await dovecot.append(user, testMessage("read"), ["\\Seen"]);
    const ctx = new MemorySyncContext();
    await src.sync(ctx);
    expect(ctx.commits.map((c) => c.batch.length)).toEqual([2, 2, 1]);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(subjects);
    // the last cursor covers the read message after the last unseen one
    expect(ctx.cursors.get("INBOX")?.lastUid).toBe(6);
  });

  it("keeps what committed before a failing batch and resumes after it", async () => {
    const { user, source: src } = mailbox({}, { maxCount: 2 });
    const uids: number[] = [];
    for (const s of ["b1", "b2", "b3", "b4", "b5"]) uids.push(await dovecot.append(user, testMessage(s)));
    const ctx = new MemorySyncContext();
    const first = ctx.holdNextCommit();
    const syncing = src.sync(ctx);
    await first.reached;
    const second = ctx.holdNextCommit();
    first.release();
    await second.reached;
    second.fail(new Error("constraint violated"));
    await expect(syncing).rejects.toThrow("constraint violated");

    const flags = await dovecot.flags(user);
    expect(uids.map((u) => seen(flags.get(u)))).toEqual([true, true, false, false, false]);
    expect(ctx.cursors.get("INBOX")?.lastUid).toBe(uids[1]);

    await src.sync(ctx);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["b1", "b2", "b3", "b4", "b5"]);
    const after = await dovecot.flags(user);
    expect(uids.every((u) => seen(after.get(u)))).toBe(true);
  });

  it("fetches only the header block of a message over the size limit", async () => {
    const { user, source: src } = mailbox();
    const big = testMessage("big", "x".repeat(5_000));
    const small = testMessage("small");
    await dovecot.append(user, big);
    await dovecot.append(user, small);
    const ctx = new MemorySyncContext({ maxMessageBytes: 2_000 });

    await src.sync(ctx);
    const [first, second] = ctx.committedMessages();
    expect(first?.truncated).toBe(true);
    expect(first?.size).toBe(Buffer.byteLength(big));
    expect(first?.raw.toString()).toBe(big.slice(0, big.indexOf("\r\n\r\n") + 4));
    expect(second?.truncated).toBe(false);
    expect(second?.raw.toString()).toBe(small);
  });

  it("keeps 8-bit bytes exactly as the server holds them", async () => {
    const { user, source: src } = mailbox();
    const raw = Buffer.concat([
      Buffer.from("Subject: bytes\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"),
      Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0x2e, 0x2e, 0x78, 0xe9, 0x0d, 0x0a]),
    ]);
    await dovecot.append(user, raw);
    const ctx = new MemorySyncContext();
    await src.sync(ctx);
    expect(ctx.committedMessages()[0]?.raw.equals(raw)).toBe(true);
  });
});

describe("IMAP acknowledge by moving", () => {
  it("moves committed messages to the folder", async () => {
    const { user, source: src } = mailbox({ acknowledge: { mode: "move", folder: "Processed" } });
    await dovecot.createFolder(user, "Processed");
    const raws = [testMessage("to move 1"), testMessage("to move 2")];
    for (const raw of raws) await dovecot.append(user, raw);
    const ctx = new MemorySyncContext();

    const report = await src.sync(ctx);
    expect(report).toEqual({ fetched: 2, acked: 2 });
    expect(await dovecot.count(user)).toBe(0);
    const moved = await dovecot.sources(user, "Processed");
    expect([...moved.values()].map((b) => b.toString())).toEqual(raws);
    // moved mail keeps its unread state: it was never fetched without PEEK
    expect([...(await dovecot.flags(user, "Processed")).values()].some(seen)).toBe(false);
  });

  it("reports a missing move folder in words, before taking any mail", async () => {
    const { user, source: src } = mailbox({ acknowledge: { mode: "move", folder: "Nowhere" } });
    await dovecot.append(user, testMessage("stays"));
    const ctx = new MemorySyncContext();
    const err = await src.sync(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailSourceError);
    expect((err as MailSourceError).code).toBe("folder_missing");
    expect((err as MailSourceError).message).toContain('"Nowhere"');
    expect(ctx.commits).toHaveLength(0);
  });

  it("reports a missing folder to read", async () => {
    const { source: src } = mailbox({ folder: "Support/Missing" });
    const err = await src.sync(new MemorySyncContext()).catch((e: unknown) => e);
    expect((err as MailSourceError).code).toBe("folder_missing");
    expect((err as MailSourceError).message).toContain('"Support/Missing"');
  });
});

describe("IMAP IDLE", () => {
  it("resolves waitForChange with changed when a message is appended", async () => {
    const { user, source: src } = mailbox();
    const ctx = new MemorySyncContext();
    await src.sync(ctx);
    const waiting = src.waitForChange(30_000, new AbortController().signal);
    await dovecot.append(user, testMessage("pushed"));
    expect(await waiting).toBe("changed");
    await src.sync(ctx);
    expect(ctx.committedTexts().map(subjectOf)).toEqual(["pushed"]);
  });

  it("answers timeout and aborted", async () => {
    const { source: src } = mailbox();
    await src.sync(new MemorySyncContext());
    expect(await src.waitForChange(50, new AbortController().signal)).toBe("timeout");
    const ac = new AbortController();
    const waiting = src.waitForChange(30_000, ac.signal);
    ac.abort();
    expect(await waiting).toBe("aborted");
  });

  it("keeps seeing new mail across IDLE renewals", async () => {
    const { user, source: src } = mailbox({}, { idleRenewMs: 150 });
    const ctx = new MemorySyncContext();
    await src.sync(ctx);
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
