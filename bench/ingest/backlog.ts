import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { corpusSeeds, describeCorpus, generateCorpus, type CorpusName, type CorpusShape } from "../corpus.js";
import { bareClient } from "../lib/bare-imap.js";
import { nowMs, progress, sleep } from "../lib/clock.js";
import { createImapMailbox, MailroomDbReader, startBenchMailroom } from "../lib/mailroom.js";
import { cpuSeconds, othersCpu, peakRssKb, type Cleanup } from "../lib/processes.js";
import { median, round1 } from "../lib/stats.js";
import { ApiProbe, type ApiFigures } from "./api-probe.js";
import { bareParsers, runBaseline, type BareParser, type BaselineFigures } from "./baseline.js";
import type { IngestOptions } from "./options.js";
import { createRoutes, describeRoutes, planRoutes, type PlannedRoute, type RouteSetDescription } from "./routes.js";
import { measureStorageCost, type StorageCost } from "./storage-cost.js";

const password = "bench-pw";
const pollMs = 100;

export const baselineStorage =
  "one better-sqlite3 INSERT of (Message-ID, subject, from, raw) per message, autocommit, WAL, synchronous=NORMAL: " +
  "not Mailroom's transactions of 50, nor synchronous=FULL (see storage for what FULL costs)";

export interface MailroomBacklogFigures {
  parseWorkers: number;
  /** inbound routes made through the API before the clock started (`--routes`); 0 for none */
  routes: number;
  /** how long making them took, outside the clock; null for none */
  routesCreateMs: number | null;
  messages: number;
  /** from the POST that enables the application until every message is committed and \Seen */
  ms: number;
  msgPerSec: number;
  /** Mailroom's msg/s over the same run's baseline (the faster bare parser on this corpus) */
  ratio: number;
  firstCommitMs: number;
  allCommittedMs: number;
  allSeenMs: number;
  cpuSeconds: number;
  /** CPU seconds the rest of the machine took meanwhile (see othersCpu) */
  othersCpuSeconds: number;
  peakRssMb: number;
  api: ApiFigures;
  /** the mailbox's interactions by queue once drained: the application's queue, or the best matching route's */
  interactionsByQueue: Record<string, number>;
}

/** One run's drains with `--routes N`, each paired with the drain without routes on the same workers value. */
export interface RoutingRun {
  routes: number;
  /** the routes of the drains in the order they ran, for every workers value (alternated between runs) */
  order: number[];
  /** `ratio` is over the run's baseline as without routes; `overWithout` is msg/s over the same run's drain without routes */
  mailroom: (MailroomBacklogFigures & { overWithout: number })[];
}

export interface BacklogRun {
  run: number;
  /** 1, 5 and 15 min load averages when the run began: a shared machine shows here */
  loadAverage: number[];
  /** both bare pipelines on the same copy, in `order` (alternated between runs); `faster` is this run's baseline */
  baseline: Record<BareParser, BaselineFigures> & { order: BareParser[]; faster: BareParser; msgPerSec: number };
  /** Mailroom without routes, per workers value */
  mailroom: MailroomBacklogFigures[];
  /** with `--routes N`: the drains with the routes */
  routing?: RoutingRun;
  storage: StorageCost;
}

export interface BacklogMedians {
  baselineMsgPerSec: Record<BareParser, number> & { faster: number };
  mailroom: { parseWorkers: number; msgPerSec: number; ratio: number; ratios: number[]; apiP99Worst: number }[];
  storage: { normalMsgPerSec: number; fullMsgPerSec: number; normalMsPerTransaction: number; fullMsPerTransaction: number };
  /** with `--routes N`, per workers value: msg/s with and without the routes, and the median of each run's with over without */
  routing?: {
    routes: number;
    mailroom: { parseWorkers: number; msgPerSec: number; msgPerSecWithout: number; ratio: number; ratios: number[]; apiP99Worst: number }[];
  };
}

export interface BacklogCorpusResult {
  corpus: CorpusShape;
  runs: BacklogRun[];
  /** medians over the runs; the targets are checked on these */
  median: BacklogMedians;
}

export interface BacklogResult {
  pollIntervalMs: number;
  baselineStorage: string;
  /** with `--routes N`: the routes every drain with routes had */
  routes?: RouteSetDescription;
  corpora: Partial<Record<CorpusName, BacklogCorpusResult>>;
}

/** What one Mailroom drain measures: which user's copy, and with what. */
interface Drain {
  user: string;
  count: number;
  parseWorkers: number;
  nodeArgs: string[];
  /** made before the clock starts; none for a drain without routes */
  routes: PlannedRoute[];
}

async function deliverTo(dovecot: Dovecot, user: string, corpus: Buffer[]): Promise<void> {
  dovecot.addUser(user, password);
  await dovecot.deliver(user, corpus);
  // STATUS makes Dovecot take the new files in and number them, outside any clock
  const n = await dovecot.count(user);
  if (n !== corpus.length) throw new Error(`${user} holds ${n} of ${corpus.length} delivered messages`);
}

async function measureMailroom(cleanup: Cleanup, dovecot: Dovecot, drain: Drain): Promise<Omit<MailroomBacklogFigures, "ratio">> {
  const { user, count, parseWorkers, nodeArgs, routes } = drain;
  const mailroom = await startBenchMailroom(cleanup, { parseWorkers, nodeArgs });
  const status = bareClient(dovecot.imapPort, user, password);
  try {
    const mailboxId = await createImapMailbox(mailroom.api, { name: "backlog", login: user, password, port: dovecot.imapPort });
    const made = routes.length ? await createRoutes(mailroom.api, routes) : null;
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
    const interactionsByQueue = db.interactionsByQueue(mailboxId);
    const figures = {
      parseWorkers,
      routes: routes.length,
      routesCreateMs: made?.ms ?? null,
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
      interactionsByQueue,
    };
    db.close();
    // a drain whose mail did not land where the best route sends it did not measure routing
    const best = describeRoutes(routes).best;
    if (best && interactionsByQueue[best.queue] !== count) {
      throw new Error(`with ${routes.length} routes, ${best.pattern} should have sent all ${count} messages to ${best.queue}: ${JSON.stringify(interactionsByQueue)}`);
    }
    return figures;
  } finally {
    await status.logout().catch(() => status.close());
    await mailroom.stop();
  }
}

const ratio3 = (n: number): number => Math.round(n * 1000) / 1000;

/**
 * One run on one corpus: a fresh Dovecot holding a copy for the bare pipelines and one per workers value,
 * or with `--routes` two per workers value, one drained without routes and one with them.
 */
async function measureRun(opts: IngestOptions, cleanup: Cleanup, name: CorpusName, corpus: Buffer[], run: number, routePlan: PlannedRoute[]): Promise<BacklogRun> {
  const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const dovecot = await startDovecot();
  const stopDovecot = cleanup.add(`dovecot (backlog ${name} run ${run})`, () => dovecot.stop());
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-bench-baseline-"));
  const removeScratch = cleanup.add("baseline dir", async () => fs.rmSync(scratch, { recursive: true, force: true }));
  const tag = `backlog ${name} run ${run}`;
  try {
    const baseUser = `base@bench.test`;
    // without and with routes back to back on each workers value, so that both see the same spell of the
    // machine; which goes first alternates from run to run, as the bare parsers' order does
    const routeCounts = routePlan.length ? (run % 2 ? [0, routePlan.length] : [routePlan.length, 0]) : [0];
    const userOf = (workers: number, routes: number) => `mailroom-w${workers}${routes ? "-routes" : ""}@bench.test`;
    const mailroomUsers = opts.workers.flatMap((w) => routeCounts.map((routes) => userOf(w, routes)));
    progress(`${tag}: delivering ${corpus.length} messages to ${1 + mailroomUsers.length} users`);
    for (const user of [baseUser, ...mailroomUsers]) await deliverTo(dovecot, user, corpus);
    // written-back pages would otherwise compete with the measurement for the disk
    execFileSync("sync");

    // both pipelines read the same read-only copy; the order alternates so neither always goes first
    const order: BareParser[] = run % 2 ? [...bareParsers] : [...bareParsers].reverse();
    const measured: Partial<Record<BareParser, BaselineFigures>> = {};
    for (const parser of order) {
      progress(`${tag}: baseline with ${parser}`);
      measured[parser] = await runBaseline({ port: dovecot.imapPort, user: baseUser, password, count: corpus.length, parser, dir: scratch });
      progress(`${tag}: baseline ${parser} ${measured[parser].msgPerSec} msg/s`);
    }
    const baseline = measured as Record<BareParser, BaselineFigures>;
    const faster = bareParsers.reduce((a, b) => (baseline[a].msgPerSec >= baseline[b].msgPerSec ? a : b));
    const baseRate = baseline[faster].msgPerSec;

    const mailroom: MailroomBacklogFigures[] = [];
    const withRoutes: MailroomBacklogFigures[] = [];
    for (const workers of opts.workers) {
      for (const routes of routeCounts) {
        const withWhat = routes ? ` and ${routes} routes` : "";
        progress(`${tag}: Mailroom with MAILROOM_PARSE_WORKERS=${workers}${withWhat}`);
        const drain = { user: userOf(workers, routes), count: corpus.length, parseWorkers: workers, nodeArgs: opts.mailroomNodeArgs, routes: routes ? routePlan : [] };
        const m = await measureMailroom(cleanup, dovecot, drain);
        (routes ? withRoutes : mailroom).push({ ...m, ratio: ratio3(m.msgPerSec / baseRate) });
        const made = m.routesCreateMs === null ? "" : ` (routes made in ${m.routesCreateMs} ms, before the clock)`;
        progress(`${tag}: Mailroom${routes ? ` with ${routes} routes` : ""} ${m.msgPerSec} msg/s (${Math.round((m.msgPerSec / baseRate) * 100)}% of ${faster}), API p99 ${m.api.p99} ms${made}`);
      }
    }
    const routing: RoutingRun | undefined = routePlan.length
      ? {
          routes: routePlan.length,
          order: routeCounts,
          mailroom: withRoutes.map((m) => {
            const without = mailroom.find((w) => w.parseWorkers === m.parseWorkers)!;
            return { ...m, overWithout: ratio3(m.msgPerSec / without.msgPerSec) };
          }),
        }
      : undefined;
    for (const m of routing?.mailroom ?? []) {
      progress(`${tag}: MAILROOM_PARSE_WORKERS=${m.parseWorkers}: with ${m.routes} routes ${Math.round(m.overWithout * 100)}% of the msg/s without`);
    }

    progress(`${tag}: storage cost of synchronous=FULL`);
    const storage = measureStorageCost(corpus, run);
    progress(`${tag}: transactions of 50: NORMAL ${storage.normal.msPerTransaction.mean} ms, FULL ${storage.full.msPerTransaction.mean} ms`);
    return { run, loadAverage, baseline: { ...baseline, order, faster, msgPerSec: baseRate }, mailroom, ...(routing ? { routing } : {}), storage };
  } finally {
    await removeScratch();
    await stopDovecot();
  }
}

/** With `--routes`: each run's msg/s with the routes over the same run's without, and their median. */
function routingMedians(runs: BacklogRun[], workers: number[]): NonNullable<BacklogMedians["routing"]> {
  const med = (xs: number[]) => round1(median(xs));
  return {
    routes: runs[0]!.routing!.routes,
    mailroom: workers.map((parseWorkers) => {
      const withRoutes = runs.map((r) => r.routing!.mailroom.find((m) => m.parseWorkers === parseWorkers)!);
      const without = runs.map((r) => r.mailroom.find((m) => m.parseWorkers === parseWorkers)!);
      const ratios = withRoutes.map((m) => m.overWithout);
      return {
        parseWorkers,
        msgPerSec: med(withRoutes.map((m) => m.msgPerSec)),
        msgPerSecWithout: med(without.map((m) => m.msgPerSec)),
        ratio: ratio3(median(ratios)),
        ratios,
        apiP99Worst: Math.max(...withRoutes.map((m) => m.api.p99)),
      };
    }),
  };
}

function mediansOf(runs: BacklogRun[], workers: number[]): BacklogMedians {
  const med = (xs: number[]) => round1(median(xs));
  const parserMedians = Object.fromEntries(bareParsers.map((p) => [p, med(runs.map((r) => r.baseline[p].msgPerSec))])) as Record<BareParser, number>;
  return {
    baselineMsgPerSec: { ...parserMedians, faster: med(runs.map((r) => r.baseline.msgPerSec)) },
    mailroom: workers.map((parseWorkers) => {
      const figures = runs.map((r) => r.mailroom.find((m) => m.parseWorkers === parseWorkers)!);
      const ratios = figures.map((m) => m.ratio);
      return {
        parseWorkers,
        msgPerSec: med(figures.map((m) => m.msgPerSec)),
        ratio: ratio3(median(ratios)),
        ratios,
        apiP99Worst: Math.max(...figures.map((m) => m.api.p99)),
      };
    }),
    ...(runs[0]?.routing ? { routing: routingMedians(runs, workers) } : {}),
    storage: {
      normalMsgPerSec: med(runs.map((r) => r.storage.normal.msgPerSec)),
      fullMsgPerSec: med(runs.map((r) => r.storage.full.msgPerSec)),
      normalMsPerTransaction: med(runs.map((r) => r.storage.normal.msPerTransaction.mean)),
      fullMsPerTransaction: med(runs.map((r) => r.storage.full.msPerTransaction.mean)),
    },
  };
}

/**
 * Backlog throughput: a mailbox that already holds `count` messages when its application is enabled,
 * against the faster of the two bare pipelines on an identical copy, on each corpus, `runs` times, each
 * run on fresh copies. The runs of the corpora interleave, so a busy spell on a shared machine does
 * not fall on one corpus only. With `--routes N`, each workers value also drains a copy with N inbound
 * routes, and the cost of routing is that drain's msg/s over the one without.
 */
export async function backlogScenario(opts: IngestOptions, cleanup: Cleanup): Promise<BacklogResult> {
  const routePlan = planRoutes(opts.routes);
  const corpora = new Map<CorpusName, { raws: Buffer[]; runs: BacklogRun[] }>();
  for (const name of opts.corpora) {
    progress(`backlog: generating ${opts.count} messages of the ${name} corpus (seed ${corpusSeeds[name]})`);
    corpora.set(name, { raws: [...generateCorpus({ count: opts.count, seed: corpusSeeds[name], name })].map((m) => m.raw), runs: [] });
  }
  for (let run = 1; run <= opts.runs; run++) {
    for (const [name, corpus] of corpora) corpus.runs.push(await measureRun(opts, cleanup, name, corpus.raws, run, routePlan));
  }
  const results: Partial<Record<CorpusName, BacklogCorpusResult>> = {};
  for (const [name, { raws, runs }] of corpora) {
    results[name] = { corpus: describeCorpus(name, corpusSeeds[name], raws), runs, median: mediansOf(runs, opts.workers) };
  }
  return { pollIntervalMs: pollMs, baselineStorage, ...(routePlan.length ? { routes: describeRoutes(routePlan) } : {}), corpora: results };
}
