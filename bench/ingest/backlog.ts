import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { generateCorpus } from "../corpus.js";
import { bareClient } from "../lib/bare-imap.js";
import { nowMs, progress, sleep } from "../lib/clock.js";
import { createImapMailbox, MailroomDbReader, startBenchMailroom } from "../lib/mailroom.js";
import { cpuSeconds, othersCpu, peakRssKb, type Cleanup } from "../lib/processes.js";
import { round1 } from "../lib/stats.js";
import { ApiProbe, type ApiFigures } from "./api-probe.js";
import { bareParsers, runBaseline, type BareParser, type BaselineFigures } from "./baseline.js";
import type { IngestOptions } from "./options.js";

const password = "bench-pw";
const pollMs = 100;

export interface MailroomBacklogFigures {
  parseWorkers: number;
  messages: number;
  /** from the POST that enables the application until every message is committed and \Seen */
  ms: number;
  msgPerSec: number;
  /** Mailroom's msg/s over the same run's baseline */
  ratio: number;
  firstCommitMs: number;
  allCommittedMs: number;
  allSeenMs: number;
  cpuSeconds: number;
  /** CPU seconds the rest of the machine took meanwhile (see othersCpu) */
  othersCpuSeconds: number;
  peakRssMb: number;
  api: ApiFigures;
}

export interface BacklogRun {
  run: number;
  /** 1, 5 and 15 min load averages when the run began: a shared machine shows here */
  loadAverage: number[];
  baseline: Partial<Record<BareParser, BaselineFigures>> & { used: BareParser; msgPerSec: number };
  mailroom: MailroomBacklogFigures[];
}

export interface BacklogResult {
  corpus: { count: number; seed: number; medianBytes: number; meanBytes: number; totalMb: number };
  pollIntervalMs: number;
  runs: BacklogRun[];
}

async function deliverTo(dovecot: Dovecot, user: string, corpus: Buffer[]): Promise<void> {
  dovecot.addUser(user, password);
  await dovecot.deliver(user, corpus);
  // STATUS makes Dovecot take the new files in and number them, outside any clock
  const n = await dovecot.count(user);
  if (n !== corpus.length) throw new Error(`${user} holds ${n} of ${corpus.length} delivered messages`);
}

async function measureMailroom(
  cleanup: Cleanup,
  dovecot: Dovecot,
  user: string,
  count: number,
  parseWorkers: number,
  nodeArgs: string[],
): Promise<Omit<MailroomBacklogFigures, "ratio">> {
  const mailroom = await startBenchMailroom(cleanup, { parseWorkers, nodeArgs });
  const status = bareClient(dovecot.imapPort, user, password);
  try {
    const mailboxId = await createImapMailbox(mailroom.api, { name: "backlog", login: user, password, port: dovecot.imapPort });
    const db = new MailroomDbReader(mailroom.dbFile);
    await status.connect();
    const probe = new ApiProbe(mailroom.api.base, mailroom.api.token);
    const cpuBefore = cpuSeconds(mailroom.proc.pid);
    const others = othersCpu([mailroom.proc.pid], ["mailroom-dovecot-", user]);
    const started = nowMs();
    probe.start();
    await mailroom.api.call("POST", "/api/v1/applications", { name: "backlog", enabled: true, queueId: mailroom.queueId, mailboxIds: [mailboxId] });
    let firstCommit = 0;
    let allCommitted = 0;
    let allSeen = 0;
    const deadline = Date.now() + Math.max(120_000, count * 50);
    while (!(allCommitted && allSeen)) {
      if (Date.now() > deadline) throw new Error(`Mailroom committed ${db.interactionCount(mailboxId)} of ${count} messages before the deadline`);
      await sleep(pollMs);
      const n = db.interactionCount(mailboxId);
      const box = await status.status("INBOX", { unseen: true });
      if (!box) throw new Error(`STATUS of ${user} failed`);
      const unseen = box.unseen;
      const at = nowMs() - started;
      if (n > 0 && !firstCommit) firstCommit = at;
      if (n === count && !allCommitted) allCommitted = at;
      if (unseen === 0 && !allSeen) allSeen = at;
    }
    const ms = Math.max(allCommitted, allSeen);
    const othersCpuSeconds = others();
    const api = await probe.stop();
    const figures = {
      parseWorkers,
      messages: count,
      ms: Math.round(ms),
      msgPerSec: round1((count / ms) * 1000),
      firstCommitMs: Math.round(firstCommit),
      allCommittedMs: Math.round(allCommitted),
      allSeenMs: Math.round(allSeen),
      cpuSeconds: round1(cpuSeconds(mailroom.proc.pid) - cpuBefore),
      othersCpuSeconds,
      peakRssMb: Math.round(peakRssKb(mailroom.proc.pid) / 1024),
      api,
    };
    db.close();
    return figures;
  } finally {
    await status.logout().catch(() => status.close());
    await mailroom.stop();
  }
}

/**
 * Backlog throughput: a mailbox that already holds `count` messages when its application is enabled,
 * against the bare stack on an identical copy, each run on fresh copies.
 */
export async function backlogScenario(opts: IngestOptions, cleanup: Cleanup): Promise<BacklogResult> {
  progress(`backlog: generating ${opts.count} messages (seed ${opts.seed})`);
  const corpus = [...generateCorpus({ count: opts.count, seed: opts.seed })].map((m) => m.raw);
  const sizes = corpus.map((raw) => raw.length).sort((a, b) => a - b);
  const total = sizes.reduce((a, b) => a + b, 0);
  const dovecot = await startDovecot();
  const stopDovecot = cleanup.add("dovecot (backlog)", () => dovecot.stop());
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-bench-baseline-"));
  const removeScratch = cleanup.add("baseline dir", async () => fs.rmSync(scratch, { recursive: true, force: true }));
  const runs: BacklogRun[] = [];
  let fastest: BareParser | null = null;
  try {
    for (let run = 1; run <= opts.runs; run++) {
      const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
      const baseUser = `base${run}@bench.test`;
      const mailroomUsers = opts.workers.map((w) => `mailroom${run}w${w}@bench.test`);
      progress(`backlog run ${run}: delivering ${opts.count} messages to ${1 + mailroomUsers.length} users`);
      for (const user of [baseUser, ...mailroomUsers]) await deliverTo(dovecot, user, corpus);
      // written-back pages would otherwise compete with the measurement for the disk
      execFileSync("sync");

      const baseline: Partial<Record<BareParser, BaselineFigures>> = {};
      for (const parser of fastest ? [fastest] : bareParsers) {
        progress(`backlog run ${run}: baseline with ${parser}`);
        baseline[parser] = await runBaseline({ port: dovecot.imapPort, user: baseUser, password, count: opts.count, parser, dir: scratch });
        progress(`backlog run ${run}: baseline ${parser} ${baseline[parser].msgPerSec} msg/s`);
      }
      fastest ??= bareParsers.reduce((a, b) => (baseline[a]!.msgPerSec >= baseline[b]!.msgPerSec ? a : b));
      const baseRate = baseline[fastest]!.msgPerSec;

      const mailroom: MailroomBacklogFigures[] = [];
      for (const [i, workers] of opts.workers.entries()) {
        progress(`backlog run ${run}: Mailroom with MAILROOM_PARSE_WORKERS=${workers}`);
        const m = await measureMailroom(cleanup, dovecot, mailroomUsers[i]!, opts.count, workers, opts.mailroomNodeArgs);
        mailroom.push({ ...m, ratio: Math.round((m.msgPerSec / baseRate) * 1000) / 1000 });
        progress(`backlog run ${run}: Mailroom ${m.msgPerSec} msg/s (${Math.round((m.msgPerSec / baseRate) * 100)}% of baseline), API p99 ${m.api.p99} ms`);
      }
      runs.push({ run, loadAverage, baseline: { ...baseline, used: fastest, msgPerSec: baseRate }, mailroom });
    }
  } finally {
    await removeScratch();
    await stopDovecot();
  }
  return {
    corpus: {
      count: opts.count,
      seed: opts.seed,
      medianBytes: sizes[Math.floor(sizes.length / 2)] ?? 0,
      meanBytes: Math.round(total / sizes.length),
      totalMb: Math.round(total / 1024 / 1024),
    },
    pollIntervalMs: pollMs,
    runs,
  };
}
