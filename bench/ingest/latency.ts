import type { ImapFlow } from "imapflow";
import { startDovecot } from "../../test/support/dovecot.js";
import { bareClient } from "../lib/bare-imap.js";
import { between, nowMs, progress, sleep, waitUntil } from "../lib/clock.js";
import { createImapMailbox, MailroomDbReader, startBenchMailroom, defaultParseWorkers } from "../lib/mailroom.js";
import type { Cleanup } from "../lib/processes.js";
import { BareIdleProcess } from "./bare-idle.js";
import { commitPollMs, LatencyProbe, type LatencyFigures, type MailboxPair } from "./latency-probe.js";
import type { IngestOptions } from "./options.js";

const password = "bench-pw";

export const bareClientMethod = "a separate Node process (bench/ingest/bare-idle-child.ts) with one imapflow connection in IDLE per twin inbox";
export const detectionMethod =
  "Mailroom: one GET /api/v1/events stream held open with a bearer token; a sample arrives when the interaction.created event naming it is read " +
  "(mailroomMs), then GET /api/v1/interactions/:id for each id it names gives the Message-ID and confirms it is readable (apiConfirmMs). " +
  `Secondary: the commit seen by polling the SQLite file read-only every ${commitPollMs} ms (commitSeenMs). ` +
  "Bare: the EXISTS timestamped in the bare process. All on the shared monotonic clock, from each APPEND's completion.";

export interface LatencyResult {
  bareClient: string;
  detection: string;
  meanPollIntervalMs: number;
  parseWorkers: number;
  singles: LatencyFigures & { gapMs: [number, number] };
  stream: LatencyFigures & { ratePerSecond: number; seconds: number };
}

export interface SinglesPlan {
  /** at most this many messages */
  count: number;
  /** for the progress lines */
  label: string;
  /** the pair and APPEND connections for message i; `done` runs once it is measured */
  next: (i: number) => Promise<{ pair: MailboxPair; appenders: { mailroom: ImapFlow; twin: ImapFlow }; done?: () => Promise<void> }>;
  /** asked before each message; sending stops at the first false */
  keepGoing?: () => boolean;
}

/** Single messages spaced 1.5-2 s apart at random (Dovecot's 500 ms notify window would otherwise set the phase). */
export async function sendSingles(probe: LatencyProbe, plan: SinglesPlan): Promise<LatencyFigures> {
  const samples = [];
  let lastStart = nowMs();
  for (let i = 0; i < plan.count; i++) {
    const { pair, appenders, done } = await plan.next(i);
    await sleep(Math.max(0, lastStart + between(1_500, 2_000) - nowMs()));
    if (plan.keepGoing && !plan.keepGoing()) {
      await done?.();
      break;
    }
    lastStart = nowMs();
    const sample = await probe.send(pair, appenders, `single-${i}`);
    await probe.settle([sample], 15_000);
    samples.push(sample);
    await done?.();
    if ((i + 1) % 25 === 0) progress(`${plan.label}: ${i + 1}/${plan.count} single messages`);
  }
  return probe.figures(samples);
}

/**
 * New-mail latency on one mailbox: Mailroom's (APPEND → shown on the event stream and the API) against
 * a bare imapflow client in IDLE on a twin inbox (APPEND → EXISTS), for single messages and a steady stream.
 */
export async function latencyScenario(opts: IngestOptions, cleanup: Cleanup): Promise<LatencyResult> {
  const pair: MailboxPair = { mailroomUser: "lat@bench.test", twinUser: "lat-twin@bench.test" };
  const dovecot = await startDovecot({ users: [pair.mailroomUser, pair.twinUser].map((name) => ({ name, password })) });
  const stopDovecot = cleanup.add("dovecot (latency)", () => dovecot.stop());
  const parseWorkers = defaultParseWorkers;
  const mailroom = await startBenchMailroom(cleanup, { parseWorkers, nodeArgs: opts.mailroomNodeArgs });
  const appenders = { mailroom: bareClient(dovecot.imapPort, pair.mailroomUser, password), twin: bareClient(dovecot.imapPort, pair.twinUser, password) };
  let bare: BareIdleProcess | undefined;
  let probe: LatencyProbe | undefined;
  let db: MailroomDbReader | undefined;
  try {
    const mailboxId = await createImapMailbox(mailroom.api, { name: "latency", login: pair.mailroomUser, password, port: dovecot.imapPort });
    await mailroom.api.call("POST", "/api/v1/applications", { name: "latency", enabled: true, queueId: mailroom.queueId, mailboxIds: [mailboxId] });
    db = new MailroomDbReader(mailroom.dbFile);
    const reader = db;
    await waitUntil("the mailbox to report status ok", 30_000, 50, () => reader.statusCounts().ok === 1);
    bare = await BareIdleProcess.start(cleanup, { port: dovecot.imapPort, users: [pair.twinUser], password });
    await Promise.all([appenders.mailroom.connect(), appenders.twin.connect()]);
    probe = await LatencyProbe.start({ api: mailroom.api, bare, probedMailboxIds: [mailboxId], db });
    // both sides settle into IDLE
    await sleep(2_000);

    progress(`latency: ${opts.singles} single messages, 1.5-2 s apart`);
    const singles = await sendSingles(probe, { count: opts.singles, label: "latency", next: async () => ({ pair, appenders }) });

    const total = opts.streamRate * opts.streamSeconds;
    progress(`latency: a stream of ${opts.streamRate} msg/s for ${opts.streamSeconds} s`);
    await sleep(3_000);
    const started = nowMs();
    const sends = [];
    for (let i = 0; i < total; i++) {
      await sleep(Math.max(0, started + (i * 1000) / opts.streamRate - nowMs()));
      sends.push(probe.send(pair, appenders, `stream-${i}`));
    }
    const samples = await Promise.all(sends);
    await probe.settle(samples, 30_000);
    const stream = probe.figures(samples);
    return {
      bareClient: bareClientMethod,
      detection: detectionMethod,
      meanPollIntervalMs: probe.meanPollIntervalMs,
      parseWorkers,
      singles: { ...singles, gapMs: [1_500, 2_000] },
      stream: { ...stream, ratePerSecond: opts.streamRate, seconds: opts.streamSeconds },
    };
  } finally {
    await probe?.stop();
    db?.close();
    for (const c of Object.values(appenders)) await c.logout().catch(() => c.close());
    await bare?.stop();
    await mailroom.stop();
    await stopDovecot();
  }
}
