import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../../test/support/mailroom-process.js";
import type { Cleanup } from "./processes.js";
import { openFilesLimit, raiseOpenFiles, stopPid } from "./processes.js";

/**
 * Makes the Mailroom process collect garbage on SIGUSR2, so its memory is read after a GC the way the
 * bare client's is. A node flag, not Mailroom code: Mailroom itself is unchanged.
 */
const gcOnSignal = `data:text/javascript,${encodeURIComponent('process.on("SIGUSR2", () => globalThis.gc && globalThis.gc());')}`;

export interface BenchMailroom {
  proc: MailroomProcess;
  api: ApiClient;
  dataDir: string;
  dbFile: string;
  queueId: string;
  /** asks the process for a full GC (see gcOnSignal) */
  collectGarbage(): void;
  stop(): Promise<void>;
}

export interface BenchMailroomOptions {
  parseWorkers: number;
  /** open files the process needs (one per IMAP connection and then some) */
  openFiles?: number;
  nodeArgs?: string[];
  env?: Record<string, string>;
}

/**
 * A new temp dir where Mailroom's data dirs are made, so a measurement of storage next to Mailroom's
 * runs on the same filesystem.
 */
export function benchTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** What MAILROOM_PARSE_WORKERS is by default on this machine (src/config.ts): the scenarios that do not vary it use it. */
export const defaultParseWorkers = Math.min(2, os.availableParallelism());

/** A real `mailroom start` process with SQLite in a temp data dir, signed in as admin, with one queue. */
export async function startBenchMailroom(cleanup: Cleanup, opts: BenchMailroomOptions): Promise<BenchMailroom> {
  const dataDir = benchTempDir("mailroom-bench-");
  const removeDir = cleanup.add(`data dir ${dataDir}`, async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const proc = await startMailroomProcess({
    dataDir,
    nodeArgs: ["--expose-gc", "--import", gcOnSignal, ...(opts.nodeArgs ?? [])],
    env: { MAILROOM_PARSE_WORKERS: String(opts.parseWorkers), ...(opts.env ?? {}) },
    compiled: process.env["BENCH_FROM_SOURCE"] !== "1",
  });
  const stopProc = cleanup.add(`mailroom ${proc.pid}`, () => stopPid(proc.pid, 15_000));
  if (opts.openFiles && opts.openFiles > openFilesLimit()) raiseOpenFiles(proc.pid, opts.openFiles);
  const api = await ApiClient.login(proc.base);
  const queue = await api.call<{ id: string }>("POST", "/api/v1/queues", { name: "Bench" });
  return {
    proc,
    api,
    dataDir,
    dbFile: path.join(dataDir, "mailroom.db"),
    queueId: queue.id,
    collectGarbage: () => process.kill(proc.pid, "SIGUSR2"),
    async stop() {
      await stopProc();
      await removeDir();
    },
  };
}

/** Creates a disabled IMAP mailbox on the private Dovecot; returns its id. */
export async function createImapMailbox(api: ApiClient, opts: { name: string; login: string; password: string; port: number }): Promise<string> {
  const box = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", {
    clientType: "inbound",
    name: opts.name,
    type: "IMAP",
    mailbox: opts.login,
    password: opts.password,
    host: "127.0.0.1",
    port: opts.port,
    security: "none",
  });
  return box.id;
}

/**
 * The benchmark's read-only view of Mailroom's SQLite file: it watches what Mailroom committed from
 * outside the process, the way a reader of the database would see it.
 */
export class MailroomDbReader {
  readonly #db: BetterSqlite3.Database;
  readonly #newRows: BetterSqlite3.Statement;
  #lastRowId = 0;

  constructor(file: string) {
    this.#db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    this.#newRows = this.#db.prepare("select rowid as r, mailbox_id as b, internet_message_id as m from messages where rowid > ? order by rowid");
  }

  interactionCount(mailboxId: string): number {
    return (this.#db.prepare("select count(*) as n from interactions where mailbox_id = ?").get(mailboxId) as { n: number }).n;
  }

  /**
   * Message-IDs (without brackets) of the messages committed since the last call, only those of
   * `mailboxIds` when given (the others are skipped all the same, so a busy mailbox is read once).
   */
  newMessageIds(mailboxIds?: ReadonlySet<string>): string[] {
    const rows = this.#newRows.all(this.#lastRowId) as { r: number; b: string; m: string | null }[];
    if (rows.length) this.#lastRowId = rows[rows.length - 1]!.r;
    return rows.filter((row) => !mailboxIds || mailboxIds.has(row.b)).map((row) => (row.m ?? "").replace(/^<|>$/g, ""));
  }

  /** Skips everything committed so far. */
  skipExisting(): void {
    this.newMessageIds();
  }

  /** The mailbox's interactions by the name of their queue: where routing sent them. */
  interactionsByQueue(mailboxId: string): Record<string, number> {
    const rows = this.#db
      .prepare("select coalesce(q.name, '(none)') as queue, count(*) as n from interactions i left join queues q on q.id = i.queue_id where i.mailbox_id = ? group by 1 order by 1")
      .all(mailboxId) as { queue: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.queue, r.n]));
  }

  statusCounts(): Record<string, number> {
    const rows = this.#db.prepare("select state, count(*) as n from mailbox_status group by state").all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  close(): void {
    this.#db.close();
  }
}
