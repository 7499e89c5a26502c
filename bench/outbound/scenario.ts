import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultOutboxOptions } from "../../src/runners/outbox-sender.js";
import { startDovecot, type Dovecot } from "../../test/support/dovecot.js";
import { corpusSeeds, describeCorpus, generateCorpus, type CorpusName, type CorpusShape } from "../corpus.js";
import { progress } from "../lib/clock.js";
import { benchTempDir } from "../lib/mailroom.js";
import type { Cleanup } from "../lib/processes.js";
import { median, round1 } from "../lib/stats.js";
import { maxConnections, runBare, type BareFigures } from "./baseline.js";
import { measureDrain, type MailroomDrainFigures } from "./drain.js";
import type { OutboundOptions } from "./options.js";
import { prepareMailroom } from "./setup.js";
import { SinkProcess } from "./sink.js";

const password = "bench-pw";

/** The replies Mailroom composed in a run, as the sink got them. */
export interface OutboundShape {
  count: number;
  medianBytes: number;
  meanBytes: number;
  p95Bytes: number;
  maxBytes: number;
  totalMb: number;
  /** multipart/alternative with an HTML part (every other reply is written with HTML) */
  withHtmlShare: number;
}

export interface OutboundRun {
  run: number;
  loadAverage: number[];
  /** outside every clock: Mailroom reading the customer mail, and the reply POSTs */
  ingestMs: number;
  queueMs: number;
  queuePerSec: number;
  mailroom: MailroomDrainFigures;
  bare: BareFigures;
  replies: OutboundShape;
}

export interface OutboundMedians {
  mailroomMsgPerSec: number;
  mailroomMsgPerSecAllSent: number;
  bareMsgPerSec: number;
  ratio: number;
  ratios: number[];
  apiP99Worst: number;
}

export interface OutboundCorpusResult {
  /** the customer mail the replies answer (and quote) */
  corpus: CorpusShape;
  runs: OutboundRun[];
  median: OutboundMedians;
}

export interface OutboundResult {
  maxConnections: number;
  claimBatch: number;
  corpora: Partial<Record<CorpusName, OutboundCorpusResult>>;
}

function shapeOf(sizes: number[], withHtml: number): OutboundShape {
  const sorted = [...sizes].sort((a, b) => a - b);
  const total = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    medianBytes: sorted[Math.floor(sorted.length / 2)] ?? 0,
    meanBytes: Math.round(total / Math.max(1, sorted.length)),
    p95Bytes: sorted[Math.floor(sorted.length * 0.95)] ?? 0,
    maxBytes: sorted[sorted.length - 1] ?? 0,
    totalMb: round1(total / 1024 / 1024),
    withHtmlShare: Math.round((withHtml / Math.max(1, sorted.length)) * 1000) / 1000,
  };
}

const ratio3 = (n: number): number => Math.round(n * 1000) / 1000;

/**
 * One run on one corpus: the customer mail goes into a fresh Dovecot user; a fresh Mailroom reads it,
 * replies are queued, the outbox drains into the holding sink (timed); then, Mailroom stopped, the bare
 * nodemailer pool sends the very messages Mailroom composed (read from its database) to a fresh sink.
 * The bare run always comes second: it needs what Mailroom composed.
 */
async function measureRun(opts: OutboundOptions, cleanup: Cleanup, dovecot: Dovecot, name: CorpusName, corpus: Buffer[], run: number): Promise<OutboundRun> {
  const tag = `outbound ${name} run ${run}`;
  const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const user = `customers-${name}-${run}@bench.test`;
  dovecot.addUser(user, password);
  await dovecot.deliver(user, corpus);
  const n = await dovecot.count(user);
  if (n !== corpus.length) throw new Error(`${user} holds ${n} of ${corpus.length} delivered messages`);

  const sink = await SinkProcess.start(cleanup, { hold: true });
  const scratch = benchTempDir("mailroom-bench-outbound-");
  const removeScratch = cleanup.add(`scratch ${scratch}`, async () => fs.rmSync(scratch, { recursive: true, force: true }));
  const messagesFile = path.join(scratch, "messages.jsonl");
  try {
    progress(`${tag}: Mailroom reads ${corpus.length} customer messages, then replies are queued while the sink holds`);
    const prep = await prepareMailroom(cleanup, {
      dovecot, user, password, count: corpus.length, seed: corpusSeeds[name], sinkPort: sink.port, concurrency: opts.queueConcurrency, nodeArgs: opts.mailroomNodeArgs, tag,
    });
    let mailroom: Omit<MailroomDrainFigures, "ratio">;
    let replies: OutboundShape;
    try {
      mailroom = await measureDrain(prep, sink, corpus.length);
      progress(`${tag}: Mailroom ${mailroom.msgPerSec} msg/s to the sink, ${mailroom.msgPerSecAllSent} msg/s until all sent, API p99 ${mailroom.api.p99} ms`);
      const written = prep.db.writeMessages(messagesFile);
      replies = shapeOf(written.sizes, written.withHtml);
    } finally {
      prep.db.close();
      await prep.mailroom.stop();
      await sink.stop();
    }
    progress(`${tag}: bare nodemailer pool (maxConnections ${maxConnections}) sends the same ${corpus.length} messages`);
    const bare = await runBare(cleanup, messagesFile, corpus.length);
    const ratio = ratio3(mailroom.msgPerSec / bare.msgPerSec);
    progress(`${tag}: bare ${bare.msgPerSec} msg/s; Mailroom at ${Math.round(ratio * 100)}% of it`);
    return {
      run, loadAverage, ingestMs: prep.ingestMs, queueMs: prep.queueMs, queuePerSec: round1((corpus.length / prep.queueMs) * 1000),
      mailroom: { ...mailroom, ratio }, bare, replies,
    };
  } finally {
    await removeScratch();
  }
}

function mediansOf(runs: OutboundRun[]): OutboundMedians {
  const med = (xs: number[]) => round1(median(xs));
  return {
    mailroomMsgPerSec: med(runs.map((r) => r.mailroom.msgPerSec)),
    mailroomMsgPerSecAllSent: med(runs.map((r) => r.mailroom.msgPerSecAllSent)),
    bareMsgPerSec: med(runs.map((r) => r.bare.msgPerSec)),
    ratio: ratio3(median(runs.map((r) => r.mailroom.ratio))),
    ratios: runs.map((r) => r.mailroom.ratio),
    apiP99Worst: Math.max(...runs.map((r) => r.mailroom.api.p99)),
  };
}

/**
 * Outbox throughput: `count` replies to a corpus's customer mail drained by Mailroom's sender into an
 * accept-everything SMTP server, against a bare nodemailer pool sending the same messages, `runs` times
 * per corpus; the runs of the corpora interleave, as bench:ingest's do.
 */
export async function outboundScenario(opts: OutboundOptions, cleanup: Cleanup): Promise<OutboundResult> {
  const corpora = new Map<CorpusName, { raws: Buffer[]; runs: OutboundRun[] }>();
  for (const name of opts.corpora) {
    progress(`outbound: generating ${opts.count} customer messages of the ${name} corpus (seed ${corpusSeeds[name]})`);
    corpora.set(name, { raws: [...generateCorpus({ count: opts.count, seed: corpusSeeds[name], name })].map((m) => m.raw), runs: [] });
  }
  const dovecot = await startDovecot();
  const stopDovecot = cleanup.add("dovecot (outbound)", () => dovecot.stop());
  try {
    for (let run = 1; run <= opts.runs; run++) {
      for (const [name, corpus] of corpora) corpus.runs.push(await measureRun(opts, cleanup, dovecot, name, corpus.raws, run));
    }
  } finally {
    await stopDovecot();
  }
  const results: Partial<Record<CorpusName, OutboundCorpusResult>> = {};
  for (const [name, { raws, runs }] of corpora) {
    results[name] = { corpus: describeCorpus(name, corpusSeeds[name], raws), runs, median: mediansOf(runs) };
  }
  return { maxConnections, claimBatch: defaultOutboxOptions.batch, corpora: results };
}
