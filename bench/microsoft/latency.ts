import type { CorpusName } from "../corpus.js";
import { nowMs, progress, sleep } from "../lib/clock.js";
import { summarizeLog, type MailroomLogSummary } from "../lib/mailroom-log.js";
import { interactionsByMessageId, MailroomProbe } from "../lib/mailroom-probe.js";
import type { BareWatcher } from "../lib/notifying-child.js";
import { corpusMessages, deliverPaced, sizes, type Delivered } from "../lib/paced-delivery.js";
import { checkoutMarkers, othersCpu, type Cleanup } from "../lib/processes.js";
import { round1, summarize, type Summary } from "../lib/stats.js";
import { readSyncSeconds, syncsBetween, type SyncFigures } from "../lib/sync-metrics.js";
import { countsBetween, MicrosoftEmulator, type EmulatorCounts } from "./emulator.js";
import { startMicrosoftMailroom, type MicrosoftMailroom } from "./mailroom.js";
import { perCorpus, type MicrosoftBenchOptions } from "./options.js";
import type { LatencyWords, MicrosoftProtocol } from "./protocol.js";

/** What the latency scenario's report says it measured, in the protocol's words where they differ. */
function latencyMethod(words: LatencyWords) {
  return {
    t0: `the moment POST /_emulator/deliver had answered (${words.t0})`,
    baseline: `deliver answered → ${words.baseline}. Measured before Mailroom runs, on a user of its own, at the same pace.`,
    mailroom:
      "deliver answered → the interaction.created event naming the message read from one GET /api/v1/events stream held open with a bearer token (eventMs); " +
      "GET /api/v1/interactions/:id for each id it names gives the Message-ID (unique per message) and confirms it is readable (apiConfirmMs)",
    paired:
      `while Mailroom is measured the bare ${words.bareName} is subscribed to Mailroom's user too, so each message's notification time is known (notificationMs) ` +
      `and Mailroom's own share (${words.mailroomShare}) is eventMs - notificationMs`,
  };
}

/** how long after the last delivery a message may still be shown; one that is not counts with the time waited */
const settleMs = 30_000;

export const sampleColumns = ["notificationMs", "eventMs", "apiConfirmMs"] as const;

export interface LatencyCorpusResult {
  corpus: CorpusName;
  messages: number;
  warmup: number;
  intervalMs: number;
  messageSizes: ReturnType<typeof sizes>;
  baseline: {
    /** deliver answered → notification read by the bare client */
    notificationMs: Summary;
    /** notifications the bare client had not read 10 s after the last delivery: left out */
    missing: number;
    /** POST /_emulator/deliver, sent → answered */
    deliverRoundTripMs: Summary;
    scheduleLateMaxMs: number;
    /** CPU seconds the rest of the machine took meanwhile (see othersCpu): near 0 on a quiet machine */
    othersCpuSeconds: number;
    samples: number[];
  };
  mailroom: {
    eventMs: Summary;
    apiConfirmMs: Summary;
    /** the paired bare client's notification time for the same messages */
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
    othersCpuSeconds: number;
    emulator: EmulatorCounts;
    /** Mailroom's mailbox syncs while the messages were delivered and shown (its histogram on GET /metrics) */
    syncs: SyncFigures;
    log: MailroomLogSummary;
    sampleColumns: typeof sampleColumns;
    /** per message, in the order of sampleColumns, ms (-1: the bare client missed it) */
    samples: number[][];
  };
  /** Mailroom's eventMs minus the baseline's notificationMs, at p50 and p99 */
  differenceMs: { p50: number; p99: number };
}

export interface LatencyResult {
  method: ReturnType<typeof latencyMethod>;
  /** the protocol's periodic sync in this scenario: far away, so that only push drives the mailbox */
  catchUpSeconds: number;
  catchUpVariable: string;
  corpora: Partial<Record<CorpusName, LatencyCorpusResult>>;
}

const roundTrips = (delivered: Delivered[]) => summarize(delivered.map((d) => d.returnedAt - d.sentAt));

/**
 * The latency scenario of a protocol: deliver → notification (bare client) and deliver →
 * interaction.created (Mailroom), N messages at a steady pace, per corpus.
 */
export function latencyScenario(protocol: MicrosoftProtocol) {
  return async (opts: MicrosoftBenchOptions, cleanup: Cleanup, interrupted: () => boolean): Promise<LatencyResult> => ({
    method: latencyMethod(protocol.latency),
    catchUpSeconds: protocol.latency.catchUpSeconds,
    catchUpVariable: protocol.catchUpVariable,
    corpora: await perCorpus(opts, interrupted, (corpus) => latencyOnCorpus(protocol, opts, cleanup, corpus, interrupted)),
  });
}

async function latencyOnCorpus(protocol: MicrosoftProtocol, opts: MicrosoftBenchOptions, cleanup: Cleanup, corpus: CorpusName, interrupted: () => boolean): Promise<LatencyCorpusResult> {
  const keepGoing = () => !interrupted();
  const total = opts.warmup + opts.messages;
  const tag = protocol.name;
  const { emulator, stop: stopEmulator } = await MicrosoftEmulator.start(cleanup);
  let bare: BareWatcher | undefined;
  let mailroom: MicrosoftMailroom | undefined;
  let probe: MailroomProbe | undefined;
  let stopProbe: (() => Promise<void>) | undefined;
  try {
    bare = await protocol.startBare(cleanup, emulator);

    // the baseline: the emulator's own notification delay, before any Mailroom runs
    const bareUser = `bare-${corpus}@acme.test`;
    await emulator.addUser(bareUser, protocol.password);
    await bare.watch(bareUser);
    await sleep(500);
    const bareOthers = othersCpu([], checkoutMarkers);
    progress(`latency ${corpus}: baseline, ${total} messages (${opts.warmup} to warm up) every ${opts.intervalMs} ms to the bare client`);
    const bareRun = await deliverPaced(emulator, bareUser, corpusMessages(corpus, total, `${tag}-bare-${corpus}`), opts.intervalMs, { keepGoing });
    const bareWait = Date.now() + 10_000;
    const r = bare;
    while (Date.now() < bareWait && bareRun.delivered.some((d) => r.notifiedAt(d.itemId) === undefined)) await sleep(20);
    const bareOthersCpu = bareOthers();
    const bareMeasured = bareRun.delivered.slice(opts.warmup);
    const bareSamples = bareMeasured.flatMap((d) => {
      const at = r.notifiedAt(d.itemId);
      return at === undefined ? [] : [at - d.returnedAt];
    });

    // Mailroom, with the bare client subscribed to the same user
    const messages = corpusMessages(corpus, total, `${tag}-latency-${corpus}`);
    mailroom = await startMicrosoftMailroom(cleanup, emulator, protocol, {
      user: `mailroom-${corpus}@acme.test`,
      name: `${tag}_latency_${corpus.replace(/[^A-Za-z0-9]/g, "_")}`,
      catchUpSeconds: protocol.latency.catchUpSeconds,
      nodeArgs: opts.mailroomNodeArgs,
    });
    await bare.watch(mailroom.user);
    const opened = await MailroomProbe.start(mailroom.api, mailroom.mailboxId);
    probe = opened;
    // on Ctrl-C the stream is closed before Mailroom is stopped: an open stream would hold up its HTTP server's close
    stopProbe = cleanup.add("event stream", () => opened.stop());
    await sleep(1_000);
    const countsBefore = await emulator.stats();
    const syncsBefore = await readSyncSeconds(mailroom.api.base, mailroom.api.token, protocol.name.toUpperCase());
    const others = othersCpu([], checkoutMarkers);
    progress(`latency ${corpus}: Mailroom, ${total} messages every ${opts.intervalMs} ms`);
    const run = await deliverPaced(emulator, mailroom.user, messages, opts.intervalMs, { keepGoing });
    const missing = await probe.settle(
      run.delivered.map((d) => d.messageId),
      settleMs,
    );
    const gaveUpAt = nowMs();
    const othersCpuSeconds = others();
    const ackWait = Date.now() + 10_000;
    while (Date.now() < ackWait && emulator.unread(mailroom.user) > 0) await sleep(50);
    const unreadAtEmulator = emulator.unread(mailroom.user);
    const counts = countsBetween(countsBefore, await emulator.stats());
    const syncs = syncsBetween(syncsBefore, await readSyncSeconds(mailroom.api.base, mailroom.api.token, protocol.name.toUpperCase()));
    const byApi = await interactionsByMessageId(mailroom.api, mailroom.mailboxId);

    const measured = run.delivered.slice(opts.warmup);
    const rows = measured.map((d) => {
      const notified = r.notifiedAt(d.itemId);
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
        othersCpuSeconds: bareOthersCpu,
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
        othersCpuSeconds,
        emulator: counts,
        syncs,
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
    await bare?.stop();
    await stopEmulator();
  }
}
