import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maildropId } from "../../src/connectors/mail-source.js";
import type { Db } from "../../src/db/database.js";
import { openTestDb, testDialects, type TestDb } from "../support/dialects.js";
import { startDovecot, type Dovecot } from "../support/dovecot.js";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../support/mailroom-process.js";

/**
 * Invariant 1 under kill -9, on each dialect: a real `mailroom start` process is killed again and again
 * while it takes two mailboxes' backlogs (IMAP and POP3), and every message the server counts as taken
 * must be stored, once. The test is bounded by progress, not by the clock: it fails when nothing new is
 * stored or acknowledged for `stallMs` while the process lives and work remains, so a slow or busy
 * machine only makes it take longer.
 */

const perMailbox = 1500;
const total = 2 * perMailbox;
const minKills = 5;
const stallMs = 60_000;
/** each life stores at most about this many before it is killed, so that the kills land mid-ingest on any machine */
const maxShare = Math.floor(total / (4 * (minKills + 1)));
/**
 * POP3 deletes only when a session ends (QUIT), and a session takes all the mail there is: the POP3 mail
 * comes in small waves, one before each life, so that its sessions end (and delete) within lives that
 * are killed; the rest comes before the last life.
 */
const popWave = 20;

/** Small but varied messages with unique Message-IDs; every 25th carries an attachment. */
function message(tag: string, i: number): string {
  const id = `<${tag}-${i}@crash.test>`;
  const body = `Order ${i}: please help.\r\n`.repeat(1 + (i % 40));
  if (i % 25 !== 0) {
    return `From: Customer ${i} <c${i}@example.test>\r\nTo: support@acme.test\r\nSubject: ${tag} ${i}\r\nMessage-ID: ${id}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n${body}`;
  }
  const att = Buffer.alloc(20_000, i % 251).toString("base64").replace(/.{76}/g, "$&\r\n");
  return (
    `From: c${i}@example.test\r\nTo: support@acme.test\r\nSubject: ${tag} ${i}\r\nMessage-ID: ${id}\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\nContent-Type: text/plain\r\n\r\n${body}\r\n` +
    `--b${i}\r\nContent-Type: application/octet-stream; name="data-${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${att}\r\n--b${i}--\r\n`
  );
}

const bare = (messageId: string | null) => (messageId ?? "").replace(/^<|>$/g, "");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the database holds, read the same way on both dialects. */
async function interactionCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db.kysely.selectFrom("interactions").select(["mailbox_id", (eb) => eb.fn.countAll<number>().as("n")]).groupBy("mailbox_id").execute();
  return new Map(rows.map((r) => [r.mailbox_id, Number(r.n)]));
}

async function storedCount(db: Db): Promise<number> {
  const row = await db.kysely.selectFrom("interactions").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.stop();
});

describe.each(testDialects())("crash safety: kill -9 while mail is being ingested (%s)", (dialect) => {
  const imapUser = `crash-imap-${dialect}`;
  const popUser = `crash-pop-${dialect}`;
  let store: TestDb;
  let server: MailroomProcess | undefined;
  /** POP3 messages pop-0 … pop-(popDelivered - 1) are on the server or were taken */
  let popDelivered = 0;

  beforeAll(async () => {
    dovecot.addUser(imapUser, "pw-imap-1");
    dovecot.addUser(popUser, "pw-pop-1");
    store = await openTestDb(dialect);
    await dovecot.deliver(imapUser, Array.from({ length: perMailbox }, (_, i) => Buffer.from(message("imap", i))));
  });

  afterAll(async () => {
    if (server) await server.kill9();
    await store?.cleanup();
  });

  const start = () => startMailroomProcess({ dataDir: store.dataDir, database: store.databaseConfig });

  /** Puts the next POP3 messages on the server: a wave by APPEND, or all the rest in one delivery. */
  async function addPopMail(count: number): Promise<void> {
    const upTo = Math.min(perMailbox, popDelivered + count);
    const raws = Array.from({ length: upTo - popDelivered }, (_, i) => Buffer.from(message("pop", popDelivered + i)));
    // one maildir delivery per user: its file names are unique within a call only
    if (upTo < perMailbox) for (const raw of raws) await dovecot.append(popUser, raw);
    else await dovecot.deliver(popUser, raws);
    popDelivered = upTo;
  }

  /** Every message acknowledged at the server (IMAP \Seen, POP3 deleted) has its interaction. */
  async function checkAckedImpliesStored(imapId: string, popId: string): Promise<{ seen: number; deleted: number }> {
    const db = store.db.kysely;
    const flags = await dovecot.flags(imapUser);
    const uidValidity = await dovecot.uidValidity(imapUser);
    const imapKeys = new Set(
      (
        await db
          .selectFrom("source_keys as s")
          .innerJoin("messages as i", "i.id", "s.message_id")
          .select("s.source_key")
          .where("s.mailbox_id", "=", imapId)
          .where("s.maildrop", "=", maildropId("IMAP", dovecot.host, imapUser, "INBOX"))
          .where("s.state", "=", "stored")
          .execute()
      ).map((r) => r.source_key),
    );
    let seen = 0;
    for (const [uid, f] of flags) {
      if (!f.includes("\\Seen")) continue;
      seen++;
      expect(imapKeys.has(`${uidValidity}:${uid}`), `IMAP UID ${uid} is \\Seen without an interaction`).toBe(true);
    }

    const popLeft = new Set<string>();
    for (const raw of (await dovecot.sources(popUser)).values()) popLeft.add(/Message-ID: <([^>]+)>/i.exec(raw.toString())![1]!);
    const popStored = new Set(
      (await db.selectFrom("messages").select("internet_message_id").where("mailbox_id", "=", popId).execute()).map((r) => bare(r.internet_message_id)),
    );
    let deleted = 0;
    for (let i = 0; i < popDelivered; i++) {
      const id = `pop-${i}@crash.test`;
      if (popLeft.has(id)) continue;
      deleted++;
      expect(popStored.has(id), `POP3 message ${id} was deleted without an interaction`).toBe(true);
    }

    const counts = await interactionCounts(store.db);
    expect(counts.get(imapId) ?? 0, "IMAP interactions").toBeLessThanOrEqual(perMailbox);
    expect(counts.get(popId) ?? 0, "POP3 interactions").toBeLessThanOrEqual(popDelivered);
    return { seen, deleted };
  }

  /**
   * Polls until the check says done. Fails when the process ended on its own, or when the check's
   * `progress` (a count that moves while Mailroom works) stood still for `stallMs`.
   */
  async function untilDone(what: string, check: () => Promise<{ done: boolean; progress: number }>, everyMs: number): Promise<void> {
    const proc = server!;
    let last: number | null = null;
    let lastMovedAt = Date.now();
    for (;;) {
      const { done, progress } = await check();
      if (done) return;
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`mailroom ended by itself while waiting for ${what}:\n${proc.output().slice(-4000)}`);
      }
      if (progress !== last) {
        last = progress;
        lastMovedAt = Date.now();
      } else if (Date.now() - lastMovedAt > stallMs) {
        throw new Error(`no progress for ${stallMs / 1000} s while waiting for ${what} (${await storedCount(store.db)} of ${total} stored):\n${proc.output().slice(-4000)}`);
      }
      await sleep(everyMs);
    }
  }

  it("loses nothing, doubles nothing, and acknowledges only what it stored", { timeout: 30 * 60_000 }, async () => {
    await addPopMail(popWave);
    server = await start();
    const api = await ApiClient.login(server.base);
    const queue = await api.call<{ id: string }>("POST", "/api/v1/queues", { name: "Crash" });
    const common = { clientType: "inbound", host: dovecot.host, security: "none", maxSizeMb: 5 };
    const imap = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", { ...common, name: "crash_imap", type: "IMAP", port: dovecot.imapPort, mailbox: imapUser, password: "pw-imap-1" });
    const pop = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", { ...common, name: "crash_pop", type: "POP3", port: dovecot.pop3Port, mailbox: popUser, password: "pw-pop-1" });
    await api.call("POST", "/api/v1/applications", { name: "Crash", enabled: true, queueId: queue.id, mailboxIds: [imap.id, pop.id] });

    const stored = () => storedCount(store.db);
    let killedMidway = 0;
    for (;;) {
      // let this life store a random share, then kill it a random moment later (mid-commit, between commit and ack, …)
      const target = (await stored()) + 1 + Math.floor(Math.random() * maxShare);
      await untilDone(
        "a life to store its share",
        async () => {
          const n = await stored();
          return { done: n >= Math.min(target, total), progress: n };
        },
        10,
      );
      await sleep(Math.random() * 100);
      await server.kill9();
      server = undefined;
      const atKill = await stored();
      await checkAckedImpliesStored(imap.id, pop.id);
      // mail that this life had not stored yet was there for it all along (the backlog, the wave)
      const midway = atKill < perMailbox + popDelivered;
      if (midway) killedMidway++;
      const last = !midway || killedMidway === minKills + 1;
      await addPopMail(last ? perMailbox : popWave);
      server = await start();
      if (last) break;
    }
    expect(killedMidway, "kills that landed while messages were still being ingested").toBeGreaterThanOrEqual(minKills);

    // the last life finishes the job: everything stored and acknowledged
    await untilDone(
      "the last life to store and acknowledge everything",
      async () => {
        const n = await stored();
        const seen = [...(await dovecot.flags(imapUser)).values()].filter((f) => f.includes("\\Seen")).length;
        const left = await dovecot.count(popUser);
        return { done: n === total && seen === perMailbox && left === 0, progress: n + seen - left };
      },
      250,
    );
    await server.stop();
    server = undefined;

    const counts = await interactionCounts(store.db);
    expect(counts.get(imap.id)).toBe(perMailbox);
    expect(counts.get(pop.id)).toBe(perMailbox);
    const ids = await store.db.kysely.selectFrom("messages").select("internet_message_id").execute();
    expect(new Set(ids.map((r) => bare(r.internet_message_id))).size).toBe(total);
    const final = await checkAckedImpliesStored(imap.id, pop.id);
    expect(final).toEqual({ seen: perMailbox, deleted: perMailbox });
  });
});
