import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { simpleParser } from "mailparser";
import PostalMime from "postal-mime";
import { bareClient } from "../lib/bare-imap.js";
import { nowMs } from "../lib/clock.js";
import { othersCpu } from "../lib/processes.js";
import { round1 } from "../lib/stats.js";

export const bareParsers = ["mailparser", "postal-mime"] as const;
export type BareParser = (typeof bareParsers)[number];

interface Row {
  messageId: string | null;
  subject: string | null;
  from: string | null;
}

/** Each library with its defaults: the bare stack, not Mailroom's tuned use of it. */
const parsers: Record<BareParser, (raw: Buffer) => Promise<Row>> = {
  mailparser: async (raw) => {
    const mail = await simpleParser(raw);
    return { messageId: mail.messageId ?? null, subject: mail.subject ?? null, from: mail.from?.text ?? null };
  },
  "postal-mime": async (raw) => {
    const mail = await PostalMime.parse(raw);
    return { messageId: mail.messageId ?? null, subject: mail.subject ?? null, from: mail.from?.address ?? null };
  },
};

export interface BaselineFigures {
  parser: BareParser;
  messages: number;
  ms: number;
  msgPerSec: number;
  /** CPU seconds the rest of the machine took meanwhile (see othersCpu) */
  othersCpuSeconds: number;
}

/**
 * The bare stack with no Mailroom code: one imapflow client FETCHes every message's raw source in one
 * command (BODY.PEEK[], so nothing is marked \Seen), parses each as it arrives, and INSERTs one row
 * per message into SQLite (WAL, synchronous=NORMAL). Timed from connect to the last INSERT.
 */
export async function runBaseline(opts: { port: number; user: string; password: string; count: number; parser: BareParser; dir: string }): Promise<BaselineFigures> {
  const file = path.join(opts.dir, `baseline-${opts.parser}.db`);
  fs.rmSync(file, { force: true });
  const db = new BetterSqlite3(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("create table messages (id integer primary key, message_id text, subject text, from_address text, raw blob not null)");
  const insert = db.prepare("insert into messages (message_id, subject, from_address, raw) values (?, ?, ?, ?)");
  const parse = parsers[opts.parser];
  const client = bareClient(opts.port, opts.user, opts.password);
  let messages = 0;
  const others = othersCpu([], ["mailroom-dovecot-", opts.user]);
  const started = nowMs();
  try {
    await client.connect();
    await client.mailboxOpen("INBOX", { readOnly: true });
    for await (const msg of client.fetch("1:*", { uid: true, source: true })) {
      if (!msg.source) throw new Error(`message ${msg.uid} came without its source`);
      const row = await parse(msg.source);
      insert.run(row.messageId, row.subject, row.from, msg.source);
      messages++;
    }
    const ms = nowMs() - started;
    if (messages !== opts.count) throw new Error(`the baseline fetched ${messages} of ${opts.count} messages`);
    return { parser: opts.parser, messages, ms: Math.round(ms), msgPerSec: round1((messages / ms) * 1000), othersCpuSeconds: others() };
  } finally {
    await client.logout().catch(() => client.close());
    db.close();
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(`${file}${suffix}`, { force: true });
  }
}
