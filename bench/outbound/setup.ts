import fs from "node:fs";
import BetterSqlite3 from "better-sqlite3";
import { ApiClient } from "../../test/support/mailroom-process.js";
import type { Dovecot } from "../../test/support/dovecot.js";
import { nowMs, progress, sleep, waitUntil } from "../lib/clock.js";
import { createImapMailbox, defaultParseWorkers, startBenchMailroom, type BenchMailroom } from "../lib/mailroom.js";
import type { Cleanup } from "../lib/processes.js";
import { replyBody } from "./replies.js";

/** The outbound mailbox's login at the sink (which takes any) and the From address the replies use. */
export const smtpLogin = { user: "outbox@company.example", password: "bench-smtp-pw" };
export const fromAddress = "support@company.example";

/** The benchmark's read-only view of Mailroom's outbox, in its SQLite file. */
export class OutboxDb {
  readonly #db: BetterSqlite3.Database;
  readonly #states: BetterSqlite3.Statement;

  constructor(file: string) {
    this.#db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    this.#states = this.#db.prepare("select state, count(*) as n from outbox group by state");
  }

  interactionIds(mailboxId: string): string[] {
    return (this.#db.prepare("select id from interactions where mailbox_id = ? order by rowid").all(mailboxId) as { id: string }[]).map((r) => r.id);
  }

  interactionCount(mailboxId: string): number {
    return (this.#db.prepare("select count(*) as n from interactions where mailbox_id = ?").get(mailboxId) as { n: number }).n;
  }

  states(): Record<string, number> {
    return Object.fromEntries((this.#states.all() as { state: string; n: number }[]).map((r) => [r.state, r.n]));
  }

  /** Rows by attempts: more than one means a send was tried again, and the drain measured a retry. */
  attempts(): Record<string, number> {
    const rows = this.#db.prepare("select attempts, count(*) as n from outbox group by attempts").all() as { attempts: number; n: number }[];
    return Object.fromEntries(rows.map((r) => [String(r.attempts), r.n]));
  }

  /**
   * Writes what Mailroom sent, as the bare sender reads it: JSON lines of the envelope and the raw
   * message (base64), in the order they were queued. Answers the sizes of the raw messages.
   */
  writeMessages(file: string): { sizes: number[]; withHtml: number } {
    const rows = this.#db
      .prepare("select o.envelope as envelope, b.data as data from outbox o join messages m on m.id = o.message_id join blobs b on b.id = m.raw_blob_id order by o.created_at, o.id")
      .iterate() as Iterable<{ envelope: string; data: Buffer }>;
    const out = fs.openSync(file, "w");
    const sizes: number[] = [];
    let withHtml = 0;
    try {
      for (const row of rows) {
        const envelope = JSON.parse(row.envelope) as { from: string; to: string[] };
        sizes.push(row.data.length);
        if (row.data.includes("text/html")) withHtml++;
        fs.writeSync(out, `${JSON.stringify({ from: envelope.from, to: envelope.to, raw: row.data.toString("base64") })}\n`);
      }
    } finally {
      fs.closeSync(out);
    }
    return { sizes, withHtml };
  }

  close(): void {
    this.#db.close();
  }
}

export interface PreparedMailroom {
  mailroom: BenchMailroom;
  /** signed in after the From addresses exist, so its session holds them */
  api: ApiClient;
  db: OutboxDb;
  outboundIds: string[];
  /** the inbound side, outside every clock: Dovecot mailbox → interactions */
  ingestMs: number;
  /** the POSTs of the replies, outside every clock */
  queueMs: number;
  /** MAIL FROM the sink held when the queueing was done (the sender's first claim) */
  heldAtRelease: number;
}

/**
 * A Mailroom process set up as an administrator would through the API (test/api/outbound.test.ts):
 * a From-address folder, the outbound SMTP mailbox pointing at the holding sink, an inbound IMAP
 * mailbox holding `count` customer messages, an enabled application; then, signed in again, one reply
 * per interaction through POST /api/v1/interactions/:id/reply, `concurrency` at a time.
 *
 * How the outbox fills before the clock: POST .../reply refuses unless the outbound mailbox is enabled,
 * and an enabled one is what the sender sends through, so the sender cannot be kept idle through
 * Mailroom's settings. A sink that refuses (a 4xx, a closed port) would make every claimed row wait
 * for its retry time with attempts = 1 already spent; rows written straight into the database would
 * skip the API and its wake-up. So the sink is slow instead: it answers no MAIL FROM until the
 * release. The first POST wakes the sender, which claims the rows due then (a few) and waits at the
 * sink for them, as it waits for any slow server (its round ends when the claimed sends end); every
 * other reply stays `queued`. The release answers the held MAIL FROM and starts the clock. The held
 * rows' connections are open when the clock starts; the bare baseline opens its pool before its clock
 * too (bare-sender-child.ts).
 */
export async function prepareMailroom(
  cleanup: Cleanup,
  opts: { dovecot: Dovecot; user: string; password: string; count: number; seed: number; sinkPort: number; concurrency: number; nodeArgs: string[]; tag: string },
): Promise<PreparedMailroom> {
  const mailroom = await startBenchMailroom(cleanup, { parseWorkers: defaultParseWorkers, nodeArgs: opts.nodeArgs });
  const admin = mailroom.api;
  const folder = await admin.call<{ id: string }>("POST", "/api/v1/business-attributes", { name: "Agents" });
  await admin.call("POST", `/api/v1/business-attributes/${folder.id}/values`, { name: fromAddress, displayName: "Company Support" });
  await admin.call("POST", "/api/v1/mailboxes", {
    clientType: "outbound",
    type: "SMTP",
    mailbox: smtpLogin.user,
    password: smtpLogin.password,
    host: "127.0.0.1",
    port: opts.sinkPort,
    security: "none",
    fromAddress,
    fromAddressFolderId: folder.id,
  });
  const inbound = await createImapMailbox(admin, { name: "customers", login: opts.user, password: opts.password, port: opts.dovecot.imapPort });
  const ingestStarted = nowMs();
  // the application enables the inbound mailbox, and with it the outbound one
  await admin.call("POST", "/api/v1/applications", { name: "Support", enabled: true, queueId: mailroom.queueId, mailboxIds: [inbound] });
  const db = new OutboxDb(mailroom.dbFile);
  await waitUntil(`${opts.count} interactions`, Math.max(120_000, opts.count * 100), 200, () => db.interactionCount(inbound) === opts.count);
  const ingestMs = Math.round(nowMs() - ingestStarted);
  progress(`${opts.tag}: Mailroom ingested ${opts.count} customer messages in ${ingestMs} ms`);

  const api = await ApiClient.login(mailroom.api.base);
  const mine = await api.call<{ address: string }[]>("GET", "/api/v1/me/from-addresses");
  if (!mine.some((a) => a.address === fromAddress)) throw new Error(`the admin's session has no From address ${fromAddress}: ${JSON.stringify(mine)}`);

  const ids = db.interactionIds(inbound);
  const outboundIds: string[] = new Array<string>(ids.length);
  const queueStarted = nowMs();
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const i = next++;
      const body = replyBody(i, opts.seed);
      const made = await api.call<{ outboundId: string }>("POST", `/api/v1/interactions/${ids[i]}/reply`, { from: fromAddress, ...body });
      outboundIds[i] = made.outboundId;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, ids.length) }, lane));
  const queueMs = Math.round(nowMs() - queueStarted);
  // the first POST woke the sender; its first claim waits at the sink, the rest wait in the outbox
  await sleep(100);
  const states = db.states();
  if ((states["queued"] ?? 0) + (states["sending"] ?? 0) !== opts.count || states["sent"]) {
    throw new Error(`the outbox should hold ${opts.count} unsent replies before the release: ${JSON.stringify(states)}`);
  }
  progress(`${opts.tag}: ${opts.count} replies queued in ${queueMs} ms (${Math.round((opts.count / queueMs) * 1000)}/s), ${JSON.stringify(states)}`);
  return { mailroom, api, db, outboundIds, ingestMs, queueMs, heldAtRelease: states["sending"] ?? 0 };
}
