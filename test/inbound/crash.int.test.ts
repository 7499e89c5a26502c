import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDovecot, type Dovecot } from "../support/dovecot.js";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../support/mailroom-process.js";

const perMailbox = 2000;
const minKills = 5;

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

function openDb(dataDir: string): Database.Database {
  return new Database(path.join(dataDir, "mailroom.db"), { fileMustExist: true, timeout: 10_000 });
}

function interactionCounts(dataDir: string): Map<string, number> {
  if (!fs.existsSync(path.join(dataDir, "mailroom.db"))) return new Map();
  const db = openDb(dataDir);
  try {
    const rows = db.prepare("select mailbox_id as id, count(*) as n from interactions group by mailbox_id").all() as { id: string; n: number }[];
    return new Map(rows.map((r) => [r.id, r.n]));
  } catch {
    return new Map(); // not migrated yet
  } finally {
    db.close();
  }
}

describe("crash safety: kill -9 while mail is being ingested", () => {
  let dovecot: Dovecot;
  let dataDir: string;
  let server: MailroomProcess | undefined;

  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: "crash-imap", password: "pw-imap-1" }, { name: "crash-pop", password: "pw-pop-1" }] });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-crash-"));
    const imap = Array.from({ length: perMailbox }, (_, i) => Buffer.from(message("imap", i)));
    const pop = Array.from({ length: perMailbox }, (_, i) => Buffer.from(message("pop", i)));
    await dovecot.deliver("crash-imap", imap);
    await dovecot.deliver("crash-pop", pop);
  });

  afterAll(async () => {
    if (server) await server.kill9();
    await dovecot?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Every message acknowledged at the server (IMAP \Seen, POP3 deleted) has its interaction. */
  async function checkAckedImpliesStored(imapId: string, popId: string): Promise<{ seen: number; deleted: number }> {
    const flags = await dovecot.flags("crash-imap");
    const uidValidity = await dovecot.uidValidity("crash-imap");
    const popLeft = new Set<string>();
    for (const raw of (await dovecot.sources("crash-pop")).values()) popLeft.add(/Message-ID: <([^>]+)>/i.exec(raw.toString())![1]!);
    const db = openDb(dataDir);
    try {
      const stored = db.prepare("select 1 from mail_sources s join interactions i on i.id = s.interaction_id where s.mailbox_id = ? and s.source_key = ?");
      let seen = 0;
      for (const [uid, f] of flags) {
        if (!f.includes("\\Seen")) continue;
        seen++;
        expect(stored.get(imapId, `${uidValidity}:${uid}`), `IMAP UID ${uid} is \\Seen without an interaction`).toBeDefined();
      }
      const popStored = new Set(
        (db.prepare("select message_id from interactions where mailbox_id = ?").all(popId) as { message_id: string }[]).map((r) => r.message_id),
      );
      let deleted = 0;
      for (let i = 0; i < perMailbox; i++) {
        const id = `pop-${i}@crash.test`;
        if (popLeft.has(id)) continue;
        deleted++;
        expect(popStored.has(id), `POP3 message ${id} was deleted without an interaction`).toBe(true);
      }
      return { seen, deleted };
    } finally {
      db.close();
    }
  }

  it("loses nothing, doubles nothing, and acknowledges only what it stored", async () => {
    server = await startMailroomProcess({ dataDir });
    const api = await ApiClient.login(server.base);
    const queue = await api.call<{ id: string }>("POST", "/api/v1/queues", { name: "Crash" });
    const common = { clientType: "inbound", host: dovecot.host, security: "none", maxSizeMb: 5 };
    const imap = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", { ...common, name: "crash_imap", type: "IMAP", port: dovecot.imapPort, mailbox: "crash-imap", password: "pw-imap-1" });
    const pop = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", { ...common, name: "crash_pop", type: "POP3", port: dovecot.pop3Port, mailbox: "crash-pop", password: "pw-pop-1" });
    await api.call("POST", "/api/v1/applications", { name: "Crash", enabled: true, queueId: queue.id, mailboxIds: [imap.id, pop.id] });

    const total = () => [...interactionCounts(dataDir).values()].reduce((a, b) => a + b, 0);
    let kills = 0;
    let killedMidway = 0;
    const deadline = Date.now() + 240_000;
    while (kills < minKills + 1) {
      // let this life make some progress, then kill it at a random moment
      const before = total();
      while (total() === before && total() < 2 * perMailbox) {
        if (Date.now() > deadline) throw new Error(`no progress: ${total()} stored\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 600));
      const atKill = total();
      await server.kill9();
      server = undefined;
      kills++;
      if (atKill < 2 * perMailbox) killedMidway++;
      await checkAckedImpliesStored(imap.id, pop.id);
      server = await startMailroomProcess({ dataDir });
      if (atKill >= 2 * perMailbox) break;
    }
    expect(killedMidway, "kills that landed while messages were still being ingested").toBeGreaterThanOrEqual(minKills);

    // let the last life finish the job
    while (total() < 2 * perMailbox || (await dovecot.count("crash-pop")) > 0 || [...(await dovecot.flags("crash-imap")).values()].some((f) => !f.includes("\\Seen"))) {
      if (Date.now() > deadline) throw new Error(`did not finish: ${total()} stored\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await server.stop();
    server = undefined;

    const counts = interactionCounts(dataDir);
    expect(counts.get(imap.id)).toBe(perMailbox);
    expect(counts.get(pop.id)).toBe(perMailbox);
    const db = openDb(dataDir);
    const distinct = db.prepare("select count(distinct message_id) as n from interactions").get() as { n: number };
    db.close();
    expect(distinct.n).toBe(2 * perMailbox);
    const final = await checkAckedImpliesStored(imap.id, pop.id);
    expect(final).toEqual({ seen: perMailbox, deleted: perMailbox });
  });
});
