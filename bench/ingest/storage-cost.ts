import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { nowMs } from "../lib/clock.js";
import { benchTempDir } from "../lib/mailroom.js";
import { round1, summarize, type Summary } from "../lib/stats.js";

export const syncModes = ["NORMAL", "FULL"] as const;
export type SyncMode = (typeof syncModes)[number];

export const messagesPerTransaction = 50;

export interface SyncModeFigures {
  synchronous: SyncMode;
  messages: number;
  transactions: number;
  /** each transaction from BEGIN to the end of its COMMIT */
  msPerTransaction: Summary;
  ms: number;
  msgPerSec: number;
}

export interface StorageCost {
  /** what `stat -f` calls the filesystem of the temp dir, the one Mailroom's data dirs are made on */
  filesystem: string;
  messagesPerTransaction: number;
  /** the order the two modes ran in (alternated between runs) */
  order: SyncMode[];
  normal: SyncModeFigures;
  full: SyncModeFigures;
  /** FULL's mean ms per transaction over NORMAL's */
  fullOverNormal: number;
}

interface Row {
  messageId: string | null;
  subject: string;
  from: string;
  text: string;
  raw: Buffer;
}

/** The columns Mailroom keeps next to the raw message, taken with regexes: parsing is not what is timed here. */
function rowOf(raw: Buffer): Row {
  const headEnd = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, headEnd < 0 ? raw.length : headEnd).toString("latin1");
  const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "im").exec(head)?.[1]?.trim() ?? null;
  // Mailroom stores the text of the body besides the raw bytes; the body up to 64 KB stands in for it
  const body = headEnd < 0 ? "" : raw.subarray(headEnd + 4, headEnd + 4 + 65_536).toString("utf8");
  return { messageId: header("Message-ID"), subject: header("Subject") ?? "", from: header("From") ?? "", text: body, raw };
}

function insertAll(file: string, mode: SyncMode, rows: Row[]): SyncModeFigures {
  const db = new BetterSqlite3(file);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${mode}`);
    db.pragma("foreign_keys = ON");
    db.exec(`
      create table blobs (id text primary key, data blob not null, size integer not null);
      create table interactions (
        id text primary key, mailbox_id text not null, message_id text, subject text not null, from_address text not null,
        received_at text not null, text text not null, raw_blob_id text not null references blobs(id), created_at text not null);
      create table mail_sources (
        mailbox_id text not null, source_key text not null, interaction_id text not null references interactions(id),
        acked integer not null default 0, primary key (mailbox_id, source_key));
    `);
    const putBlob = db.prepare("insert into blobs (id, data, size) values (?, ?, ?)");
    const putInteraction = db.prepare(
      "insert into interactions (id, mailbox_id, message_id, subject, from_address, received_at, text, raw_blob_id, created_at) values (?, 'mbx', ?, ?, ?, ?, ?, ?, ?)",
    );
    const putSource = db.prepare("insert into mail_sources (mailbox_id, source_key, interaction_id) values ('mbx', ?, ?)");
    // ids that sort in insertion order, as Mailroom's time-ordered ids do
    const id = (kind: string, i: number) => `${kind}${String(i).padStart(8, "0")}`;
    const store = db.transaction((batch: Row[], first: number) => {
      const at = new Date().toISOString();
      batch.forEach((row, j) => {
        const i = first + j;
        putBlob.run(id("b", i), row.raw, row.raw.length);
        putInteraction.run(id("i", i), row.messageId, row.subject, row.from, at, row.text, id("b", i), at);
        putSource.run(`1:${i + 1}`, id("i", i));
      });
    });
    const times: number[] = [];
    const started = nowMs();
    for (let first = 0; first < rows.length; first += messagesPerTransaction) {
      const t0 = nowMs();
      store(rows.slice(first, first + messagesPerTransaction), first);
      times.push(nowMs() - t0);
    }
    const ms = nowMs() - started;
    return { synchronous: mode, messages: rows.length, transactions: times.length, msPerTransaction: summarize(times), ms: Math.round(ms), msgPerSec: round1((rows.length / ms) * 1000) };
  } finally {
    db.close();
  }
}

/**
 * What `synchronous = FULL` costs Mailroom's storage, with no Mailroom code: the corpus's bytes stored as
 * rows shaped like Mailroom's (a raw blob, an interaction with a few text columns, a source key) in
 * transactions of 50 messages, WAL mode, once with `synchronous = NORMAL` (the WAL is synced at
 * checkpoints) and once with FULL (synced at every commit), each in a fresh file in a temp dir on the
 * filesystem Mailroom's data dirs are made on. `run` alternates which mode goes first.
 */
export function measureStorageCost(corpus: Buffer[], run: number): StorageCost {
  const rows = corpus.map(rowOf);
  const dir = benchTempDir("mailroom-bench-storage-");
  try {
    const filesystem = execFileSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).trim();
    const order: SyncMode[] = run % 2 ? ["NORMAL", "FULL"] : ["FULL", "NORMAL"];
    const figures: Partial<Record<SyncMode, SyncModeFigures>> = {};
    for (const mode of order) {
      // the other mode's written-back pages would otherwise compete for the disk
      execFileSync("sync");
      figures[mode] = insertAll(path.join(dir, `${mode.toLowerCase()}.db`), mode, rows);
    }
    const normal = figures.NORMAL!;
    const full = figures.FULL!;
    return { filesystem, messagesPerTransaction, order, normal, full, fullOverNormal: Math.round((full.msPerTransaction.mean / normal.msPerTransaction.mean) * 100) / 100 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
