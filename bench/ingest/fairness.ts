import { execFileSync } from "node:child_process";
import { startDovecot } from "../../test/support/dovecot.js";
import { corpusSeeds, describeCorpus, generateCorpus, type CorpusShape } from "../corpus.js";
import { bareClient } from "../lib/bare-imap.js";
import { nowMs, progress, sleep, waitUntil } from "../lib/clock.js";
import { createImapMailbox, MailroomDbReader, startBenchMailroom, type BenchMailroom, defaultParseWorkers } from "../lib/mailroom.js";
import type { Cleanup } from "../lib/processes.js";
import { round1 } from "../lib/stats.js";
import { BareIdleProcess } from "./bare-idle.js";
import { LatencyProbe, type LatencyFigures, type MailboxPair } from "./latency-probe.js";
import { bareClientMethod, detectionMethod, sendSingles } from "./latency.js";
import type { IngestOptions } from "./options.js";

const password = "bench-pw";
const pad = (i: number) => String(i).padStart(2, "0");
const busyUser = (i: number) => `busy${pad(i)}@fair.test`;
/** each busy mailbox's backlog is the small-text corpus at its own seed, so no message repeats another's */
const busySeed = (i: number) => corpusSeeds["small-text"] * 1000 + i;

export type FairnessStop = "drained" | "samples" | "time";

export interface FairnessResult {
  busyMailboxes: number;
  backlogPerMailbox: number;
  /** the first busy mailbox's backlog; the others are the same shape at seeds seeds[0]+1… */
  corpus: CorpusShape;
  seeds: [number, number];
  bareClient: string;
  detection: string;
  parseWorkers: number;
  /** from the POST that enables the busy mailboxes to the end of the last sample */
  samplingMs: number;
  stoppedBecause: FairnessStop;
  backlogTotal: number;
  /** busy mailboxes' interactions announced on the event stream while the quiet mailbox was sampled */
  drainedWhileSampling: number;
  /** drainedWhileSampling over samplingMs, or over the time to the last backlog event when it drained */
  drainMsgPerSec: number;
  /** from the POST to the event that completed the backlog, when it did */
  drainedAllMs: number | null;
  /** the busy mailboxes' interactions in the SQLite file when sampling stopped: a check on the events' count */
  committedWhenStopped: number;
  latency: LatencyFigures & { gapMs: [number, number]; maxSamples: number; maxSeconds: number };
}

/**
 * New-mail latency of a quiet mailbox while other mailboxes of the same Mailroom drain their backlogs:
 * the quiet one is enabled and in IDLE first; then one POST enables all the busy ones, and single
 * messages go to the quiet mailbox and its twin, measured as in the latency scenario, until the
 * backlogs are drained or a cap on samples or time is reached.
 */
export async function fairnessScenario(opts: IngestOptions, cleanup: Cleanup): Promise<FairnessResult> {
  const n = opts.fairnessMailboxes;
  const perMailbox = opts.fairnessBacklog;
  const total = n * perMailbox;
  const pair: MailboxPair = { mailroomUser: "quiet@fair.test", twinUser: "quiet-twin@fair.test" };
  const busyUsers = Array.from({ length: n }, (_, i) => busyUser(i));
  const dovecot = await startDovecot({ users: [pair.mailroomUser, pair.twinUser, ...busyUsers].map((name) => ({ name, password })) });
  const stopDovecot = cleanup.add("dovecot (fairness)", () => dovecot.stop());
  const parseWorkers = defaultParseWorkers;
  let mailroom: BenchMailroom | undefined;
  let bare: BareIdleProcess | undefined;
  let probe: LatencyProbe | undefined;
  let db: MailroomDbReader | undefined;
  const appenders = { mailroom: bareClient(dovecot.imapPort, pair.mailroomUser, password), twin: bareClient(dovecot.imapPort, pair.twinUser, password) };
  try {
    progress(`fairness: delivering ${perMailbox} small-text messages to each of ${n} mailboxes`);
    let corpus: CorpusShape | undefined;
    for (const [i, user] of busyUsers.entries()) {
      const raws = [...generateCorpus({ count: perMailbox, seed: busySeed(i), name: "small-text" })].map((m) => m.raw);
      corpus ??= describeCorpus("small-text", busySeed(i), raws);
      await dovecot.deliver(user, raws);
      // STATUS makes Dovecot take the new files in and number them, outside any clock
      const held = await dovecot.count(user);
      if (held !== perMailbox) throw new Error(`${user} holds ${held} of ${perMailbox} delivered messages`);
    }
    execFileSync("sync");

    mailroom = await startBenchMailroom(cleanup, { parseWorkers, nodeArgs: opts.mailroomNodeArgs });
    const quietId = await createImapMailbox(mailroom.api, { name: "quiet", login: pair.mailroomUser, password, port: dovecot.imapPort });
    await mailroom.api.call("POST", "/api/v1/applications", { name: "quiet", enabled: true, queueId: mailroom.queueId, mailboxIds: [quietId] });
    db = new MailroomDbReader(mailroom.dbFile);
    const reader = db;
    await waitUntil("the quiet mailbox to report status ok", 30_000, 50, () => reader.statusCounts().ok === 1);
    const busyIds: string[] = [];
    for (const [i, user] of busyUsers.entries()) {
      busyIds.push(await createImapMailbox(mailroom.api, { name: `busy${pad(i)}`, login: user, password, port: dovecot.imapPort }));
    }
    bare = await BareIdleProcess.start(cleanup, { port: dovecot.imapPort, users: [pair.twinUser], password });
    await Promise.all([appenders.mailroom.connect(), appenders.twin.connect()]);
    probe = await LatencyProbe.start({ api: mailroom.api, bare, probedMailboxIds: [quietId], db });
    // both sides settle into IDLE
    await sleep(2_000);

    progress(`fairness: enabling ${n} mailboxes with ${total} messages; single messages to the quiet one, at most ${opts.fairnessSamples} or ${opts.fairnessSeconds} s`);
    const watcher = probe;
    const started = nowMs();
    const until = started + opts.fairnessSeconds * 1000;
    await mailroom.api.call("POST", "/api/v1/applications", { name: "busy", enabled: true, queueId: mailroom.queueId, mailboxIds: busyIds });
    let stoppedBecause: FairnessStop = "samples";
    const latency = await sendSingles(probe, {
      count: opts.fairnessSamples,
      label: "fairness",
      next: async () => ({ pair, appenders }),
      keepGoing: () => {
        if (watcher.createdCount(busyIds) >= total) stoppedBecause = "drained";
        else if (nowMs() >= until) stoppedBecause = "time";
        else return true;
        return false;
      },
    });
    const samplingMs = nowMs() - started;
    const drained = probe.createdCount(busyIds);
    const committedWhenStopped = busyIds.reduce((sum, id) => sum + reader.interactionCount(id), 0);
    const lastEventAt = probe.lastCreatedAt(busyIds);
    const drainedAllMs = drained >= total && lastEventAt !== undefined ? lastEventAt - started : null;
    progress(`fairness: ${drained}/${total} drained in ${Math.round(samplingMs / 1000)} s; quiet mailbox p50 ${latency.mailroomMs.p50} ms, p99 ${latency.mailroomMs.p99} ms (bare ${latency.bareMs.p50}/${latency.bareMs.p99})`);
    return {
      busyMailboxes: n,
      backlogPerMailbox: perMailbox,
      corpus: corpus!,
      seeds: [busySeed(0), busySeed(n - 1)],
      bareClient: bareClientMethod,
      detection: detectionMethod,
      parseWorkers,
      samplingMs: Math.round(samplingMs),
      stoppedBecause,
      backlogTotal: total,
      drainedWhileSampling: drained,
      drainMsgPerSec: round1((drained / (drainedAllMs ?? samplingMs)) * 1000),
      drainedAllMs: drainedAllMs === null ? null : Math.round(drainedAllMs),
      committedWhenStopped,
      latency: { ...latency, gapMs: [1_500, 2_000], maxSamples: opts.fairnessSamples, maxSeconds: opts.fairnessSeconds },
    };
  } finally {
    await probe?.stop();
    db?.close();
    for (const c of Object.values(appenders)) await c.logout().catch(() => c.close());
    await bare?.stop();
    await mailroom?.stop();
    await stopDovecot();
  }
}
