import type { CorpusName } from "../corpus.js";
import { nowMs, progress, sleep } from "../lib/clock.js";
import type { Cleanup } from "../lib/processes.js";
import { round1, summarize, type Summary } from "../lib/stats.js";
import { BareReceiver, bareReceiverMethod } from "./bare-receiver.js";
import { countsBetween, GraphEmulator, type EmulatorCounts } from "./emulator.js";
import { startGraphMailroom, summarizeLog, type GraphMailroom, type MailroomLogSummary } from "./mailroom.js";
import { corpusMessages, deliverPaced, sizes, type Delivered } from "./messages.js";
import type { GraphBenchOptions } from "./options.js";
import { interactionsByMessageId, MailroomProbe } from "./probe.js";

/** Mailroom's catch-up in this scenario: far away, so only change notifications drive the mailbox. */
const latencyCatchUpSeconds = 300;
/** how long after the last delivery a message may still be shown; one that is not counts with the time waited */
const settleMs = 30_000;

export const latencyMethod = {
  t0: "the moment POST /_emulator/deliver had answered (the emulator queues the change notification as it stores the message, and sends it 5 ms later, batching as Graph does)",
  baseline: `deliver answered → the notification read by the bare receiver: ${bareReceiverMethod}. Measured before Mailroom runs, on a user of its own, at the same pace.`,
  mailroom:
    "deliver answered → the interaction.created event naming the message read from one GET /api/v1/events stream held open with a bearer token (eventMs); " +
    "GET /api/v1/interactions/:id for each id it names gives the Message-ID (unique per message) and confirms it is readable (apiConfirmMs)",
  paired:
    "while Mailroom is measured the bare receiver is subscribed to Mailroom's user too, so each message's notification time is known (notificationMs) " +
    "and Mailroom's own share (the delta query, $value, commit and event after the notification) is eventMs - notificationMs",
};

export const sampleColumns = ["notificationMs", "eventMs", "apiConfirmMs"] as const;

export interface LatencyCorpusResult {
  corpus: CorpusName;
  messages: number;
  warmup: number;
  intervalMs: number;
  messageSizes: ReturnType<typeof sizes>;
  baseline: {
    /** deliver answered → notification read by the bare receiver */
    notificationMs: Summary;
    /** notifications the bare receiver had not read 10 s after the last delivery: left out */
    missing: number;
    /** POST /_emulator/deliver, sent → answered */
    deliverRoundTripMs: Summary;
    scheduleLateMaxMs: number;
    samples: number[];
  };
  mailroom: {
    eventMs: Summary;
    apiConfirmMs: Summary;
    /** the paired bare receiver's notification time for the same messages */
    notificationMs: Summary;
    /** eventMs - notificationMs, per message: what Mailroom adds after the notification reached a process */
    afterNotificationMs: Summary;
    /** messages not shown within 30 s of the last delivery: counted with the time waited */
    missing: number;
    /** messages delivered to Mailroom's user (warm-up included), and how many of them GET /api/v1/interactions does not list */
    delivered: number;
    lost: number;
    /** interactions of the mailbox through GET /api/v1/interactions, and Message-IDs with more than one */
    interactions: number;
    duplicates: number;
    /** the user's Inbox messages the emulator still had unread after the messages were shown */
    unreadAtEmulator: number;
    apiRetries: number;
    apiErrors: string[];
    eventStreamEnded: string | null;
    readyMs: number;
    deliverRoundTripMs: Summary;
    scheduleLateMaxMs: number;
    emulator: EmulatorCounts;
    log: MailroomLogSummary;
    sampleColumns: typeof sampleColumns;
    /** per message, in the order of sampleColumns, ms (-1: the bare receiver missed it) */
    samples: number[][];
  };
  /** Mailroom's eventMs minus the baseline's notificationMs, at p50 and p99 */
  differenceMs: { p50: number; p99: number };
}

export interface LatencyResult {
  method: typeof latencyMethod;
  catchUpSeconds: number;
  corpora: Partial<Record<CorpusName, LatencyCorpusResult>>;
}

const roundTrips = (delivered: Delivered[]) => summarize(delivered.map((d) => d.returnedAt - d.sentAt));

/** deliver → notification (bare) and deliver → interaction.created (Mailroom), N messages at a steady pace, per corpus. */
export async function latencyScenario(opts: GraphBenchOptions, cleanup: Cleanup, interrupted: () => boolean): Promise<LatencyResult> {
  const corpora: LatencyResult["corpora"] = {};
  for (const corpus of opts.corpora) {
    if (interrupted()) break;
    corpora[corpus] = await latencyOnCorpus(opts, cleanup, corpus, interrupted);
  }
  return { method: latencyMethod, catchUpSeconds: latencyCatchUpSeconds, corpora };
}

async function latencyOnCorpus(opts: GraphBenchOptions, cleanup: Cleanup, corpus: CorpusName, interrupted: () => boolean): Promise<LatencyCorpusResult> {
  const keepGoing = () => !interrupted();
  const total = opts.warmup + opts.messages;
  const { emulator, stop: stopEmulator } = await GraphEmulator.start(cleanup);
  let receiver: BareReceiver | undefined;
  let mailroom: GraphMailroom | undefined;
  let probe: MailroomProbe | undefined;
  let stopProbe: (() => Promise<void>) | undefined;
  try {
    receiver = await BareReceiver.start(cleanup);

    // the baseline: the emulator's own notification delay, before any Mailroom runs
    const bareUser = `bare-${corpus}@acme.test`;
    await emulator.addUser(bareUser);
    await emulator.subscribe(bareUser, receiver.url);
    await sleep(500);
    progress(`latency ${corpus}: baseline, ${total} messages (${opts.warmup} to warm up) every ${opts.intervalMs} ms to the bare receiver`);
    const bareRun = await deliverPaced(emulator, bareUser, corpusMessages(corpus, total, `graph-bare-${corpus}`), opts.intervalMs, { keepGoing });
    const bareWait = Date.now() + 10_000;
    const r = receiver;
    while (Date.now() < bareWait && bareRun.delivered.some((d) => r.notifiedAt(d.graphId) === undefined)) await sleep(20);
    const bareMeasured = bareRun.delivered.slice(opts.warmup);
    const bareSamples = bareMeasured.flatMap((d) => {
      const at = r.notifiedAt(d.graphId);
      return at === undefined ? [] : [at - d.returnedAt];
    });

    // Mailroom, with the bare receiver subscribed to the same user
    const messages = corpusMessages(corpus, total, `graph-latency-${corpus}`);
    mailroom = await startGraphMailroom(cleanup, emulator, {
      user: `mailroom-${corpus}@acme.test`,
      name: `graph_latency_${corpus.replace(/[^A-Za-z0-9]/g, "_")}`,
      catchUpSeconds: latencyCatchUpSeconds,
      nodeArgs: opts.mailroomNodeArgs,
    });
    await emulator.subscribe(mailroom.user, receiver.url);
    const opened = await MailroomProbe.start(mailroom.api, mailroom.mailboxId);
    probe = opened;
    // on Ctrl-C the stream is closed before Mailroom is stopped: an open stream would hold up its HTTP server's close
    stopProbe = cleanup.add("event stream", () => opened.stop());
    await sleep(1_000);
    const countsBefore = await emulator.stats();
    progress(`latency ${corpus}: Mailroom, ${total} messages every ${opts.intervalMs} ms`);
    const run = await deliverPaced(emulator, mailroom.user, messages, opts.intervalMs, { keepGoing });
    const missing = await probe.settle(
      run.delivered.map((d) => d.messageId),
      settleMs,
    );
    const gaveUpAt = nowMs();
    const ackWait = Date.now() + 10_000;
    while (Date.now() < ackWait && emulator.unread(mailroom.user) > 0) await sleep(50);
    const unreadAtEmulator = emulator.unread(mailroom.user);
    const counts = countsBetween(countsBefore, await emulator.stats());
    const byApi = await interactionsByMessageId(mailroom.api, mailroom.mailboxId);

    const measured = run.delivered.slice(opts.warmup);
    const rows = measured.map((d) => {
      const notified = r.notifiedAt(d.graphId);
      const shown = probe!.shown(d.messageId);
      const waited = gaveUpAt - d.returnedAt;
      return [notified === undefined ? Number.NaN : notified - d.returnedAt, shown ? shown.eventAt - d.returnedAt : waited, shown ? shown.apiAt - d.returnedAt : waited];
    });
    const column = (i: number) => rows.map((row) => row[i]!).filter((v) => !Number.isNaN(v));
    const after = rows.filter((row) => !Number.isNaN(row[0]!)).map((row) => row[1]! - row[0]!);
    const baseline = summarize(bareSamples);
    const eventMs = summarize(column(1));
    const result: LatencyCorpusResult = {
      corpus,
      messages: measured.length,
      warmup: opts.warmup,
      intervalMs: opts.intervalMs,
      messageSizes: sizes(messages),
      baseline: {
        notificationMs: baseline,
        missing: bareMeasured.length - bareSamples.length,
        deliverRoundTripMs: roundTrips(bareMeasured),
        scheduleLateMaxMs: bareRun.lateMaxMs,
        samples: bareSamples.map(round1),
      },
      mailroom: {
        eventMs,
        apiConfirmMs: summarize(column(2)),
        notificationMs: summarize(column(0)),
        afterNotificationMs: summarize(after),
        missing,
        delivered: run.delivered.length,
        lost: run.delivered.filter((d) => !byApi.has(d.messageId)).length,
        interactions: [...byApi.values()].reduce((a, b) => a + b, 0),
        duplicates: [...byApi.values()].filter((n) => n > 1).length,
        unreadAtEmulator,
        apiRetries: probe.apiRetries,
        apiErrors: probe.apiErrors,
        eventStreamEnded: probe.streamEnded,
        readyMs: mailroom.readyMs,
        deliverRoundTripMs: roundTrips(measured),
        scheduleLateMaxMs: run.lateMaxMs,
        emulator: counts,
        log: summarizeLog(mailroom.proc.output()),
        sampleColumns,
        samples: rows.map((row) => row.map((v) => (Number.isNaN(v) ? -1 : round1(v)))),
      },
      differenceMs: { p50: round1(eventMs.p50 - baseline.p50), p99: round1(eventMs.p99 - baseline.p99) },
    };
    progress(
      `latency ${corpus}: baseline p50 ${baseline.p50} p99 ${baseline.p99} ms; Mailroom event p50 ${eventMs.p50} p99 ${eventMs.p99} max ${eventMs.max} ms, ` +
        `${missing} not shown, ${result.mailroom.duplicates} duplicated, ${unreadAtEmulator} unread`,
    );
    return result;
  } finally {
    await stopProbe?.();
    await mailroom?.stop();
    await receiver?.stop();
    await stopEmulator();
  }
}
