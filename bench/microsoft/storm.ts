import type { ApiClient } from "../../test/support/mailroom-process.js";
import type { CorpusName } from "../corpus.js";
import { nowMs, progress, sleep } from "../lib/clock.js";
import { summarizeLog, type MailroomLogSummary } from "../lib/mailroom-log.js";
import { interactionsByMessageId, MailroomProbe } from "../lib/mailroom-probe.js";
import { corpusMessages, deliverPaced, sizes } from "../lib/paced-delivery.js";
import { checkoutMarkers, othersCpu, type Cleanup } from "../lib/processes.js";
import { recovery, type Recovery } from "../lib/recovery.js";
import { summarize, type Summary } from "../lib/stats.js";
import { countsBetween, MicrosoftEmulator, type EmulatorCounts } from "./emulator.js";
import { startMicrosoftMailroom, type MicrosoftMailroom } from "./mailroom.js";
import { perCorpus, type MicrosoftBenchOptions } from "./options.js";
import type { MicrosoftProtocol } from "./protocol.js";

/** What the storm scenario's report says it measured; only the throttling's wording differs by protocol. */
const stormMethod = (protocol: MicrosoftProtocol) => ({
  delivery: "messages delivered with POST /_emulator/deliver on a fixed schedule (rate msg/s) for before + storm + after seconds",
  storm:
    `at the storm's start POST /_emulator/faults {fail: {match: ${protocol.name}, status: 429, retryAfterSeconds, ratio}} (the emulator spreads them evenly: with ratio 0.5 every second ${protocol.label} request is answered ` +
    `${protocol.stormAnswer}; Entra's token endpoint and Graph's notifications are left alone), at its end {clear: true}; both moments are when that POST had answered`,
  committed: "a message counts as committed when the interaction.created event naming it is read from GET /api/v1/events (confirmed with GET /api/v1/interactions/:id)",
  lost: "delivered messages whose Message-ID GET /api/v1/interactions (all pages) does not list once the settle time is over",
  duplicates: "Message-IDs with more than one interaction, by GET /api/v1/interactions and by the events",
  recovery:
    "from the storm's end: backlogCommittedMs, until every message delivered before it was committed; caughtUpMs, until delivered minus committed (sampled every 100 ms) " +
    "is back within the largest lag seen before the storm and stays there for 3 s; throughputRecoveredMs, until 3 whole seconds of delivery in a row each commit at least " +
    "what they delivered minus that lag. recoveryMs is the largest of the three (null when one never happened)",
});

export interface StormCorpusResult {
  corpus: CorpusName;
  rate: number;
  seconds: { before: number; storm: number; after: number };
  messageSizes: ReturnType<typeof sizes>;
  catchUpSeconds: number;
  catchUpVariable: string;
  delivered: number;
  /** distinct delivered Message-IDs with at least one interaction, through the API */
  committed: number;
  lost: number;
  duplicates: number;
  duplicatesByEvents: number;
  /** interactions of the mailbox whose Message-ID was not delivered here (should be 0) */
  unexpected: number;
  /** messages committed (shown on the event stream) while the storm lasted, of those delivered before its end */
  committedDuringStorm: number;
  /** the user's Inbox messages the emulator still had unread once everything was committed (or the settle time ran out) */
  unreadAtEmulator: number;
  /** from the last delivery until every message was shown (or the settle time ran out) */
  settleMs: number;
  recovery: Recovery;
  /** deliver answered → interaction.created, by when the message was delivered; unshown ones with the time waited */
  latencyMs: { before: Summary; storm: Summary; after: Summary };
  emulator: { wholeRun: EmulatorCounts; storm: EmulatorCounts };
  /** the mailbox's status as GET /api/v1/mailboxes/:id showed it (polled every 250 ms), each change with ms from the storm's start */
  statusChanges: { atMs: number; state: string; code: string | null; message: string | null }[];
  readyMs: number;
  scheduleLateMaxMs: number;
  /** CPU seconds the rest of the machine took from the first delivery until settled (see othersCpu): near 0 on a quiet machine */
  othersCpuSeconds: number;
  eventStreamEnded: string | null;
  apiErrors: string[];
  log: MailroomLogSummary;
}

export interface StormResult {
  method: ReturnType<typeof stormMethod>;
  faults: { match: MicrosoftProtocol["name"]; status: 429; ratio: number; retryAfterSeconds: number };
  corpora: Partial<Record<CorpusName, StormCorpusResult>>;
}

/** The storm scenario of a protocol: a share of its requests throttled for a while as messages keep arriving, per corpus. */
export function stormScenario(protocol: MicrosoftProtocol) {
  return async (opts: MicrosoftBenchOptions, cleanup: Cleanup, interrupted: () => boolean): Promise<StormResult> => ({
    method: stormMethod(protocol),
    faults: { match: protocol.name, status: 429, ratio: opts.stormRatio, retryAfterSeconds: opts.retryAfterSeconds },
    corpora: await perCorpus(opts, interrupted, (corpus) => stormOnCorpus(protocol, opts, cleanup, corpus, interrupted)),
  });
}

/** Polls the mailbox's status and keeps every change. */
function watchStatus(api: ApiClient, mailboxId: string): { changes: { at: number; state: string; code: string | null; message: string | null }[]; stop: () => Promise<void> } {
  const changes: { at: number; state: string; code: string | null; message: string | null }[] = [];
  let running = true;
  const loop = (async () => {
    let last = "";
    while (running) {
      try {
        const view = await api.call<{ status: { state: string; code?: string; message?: string } }>("GET", `/api/v1/mailboxes/${mailboxId}`);
        const key = `${view.status.state} ${view.status.code ?? ""}`;
        if (key !== last) {
          last = key;
          changes.push({ at: nowMs(), state: view.status.state, code: view.status.code ?? null, message: view.status.message?.slice(0, 300) ?? null });
        }
      } catch (err) {
        changes.push({ at: nowMs(), state: "api-error", code: null, message: err instanceof Error ? err.message : String(err) });
      }
      await sleep(250);
    }
  })();
  return {
    changes,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function stormOnCorpus(protocol: MicrosoftProtocol, opts: MicrosoftBenchOptions, cleanup: Cleanup, corpus: CorpusName, interrupted: () => boolean): Promise<StormCorpusResult> {
  const keepGoing = () => !interrupted();
  const { emulator, stop: stopEmulator } = await MicrosoftEmulator.start(cleanup);
  let mailroom: MicrosoftMailroom | undefined;
  let probe: MailroomProbe | undefined;
  let stopProbe: (() => Promise<void>) | undefined;
  let status: ReturnType<typeof watchStatus> | undefined;
  let switcher: Promise<void> | undefined;
  try {
    mailroom = await startMicrosoftMailroom(cleanup, emulator, protocol, {
      user: `storm-${corpus}@acme.test`,
      name: `${protocol.name}_storm_${corpus.replace(/[^A-Za-z0-9]/g, "_")}`,
      catchUpSeconds: opts.catchUpSeconds,
      nodeArgs: opts.mailroomNodeArgs,
    });
    const opened = await MailroomProbe.start(mailroom.api, mailroom.mailboxId);
    probe = opened;
    // on Ctrl-C the stream is closed before Mailroom is stopped: an open stream would hold up its HTTP server's close
    stopProbe = cleanup.add("event stream", () => opened.stop());
    status = watchStatus(mailroom.api, mailroom.mailboxId);
    await sleep(1_000);

    const intervalMs = 1000 / opts.rate;
    const count = Math.round((opts.beforeSeconds + opts.stormSeconds + opts.afterSeconds) * opts.rate);
    const messages = corpusMessages(corpus, count, `${protocol.name}-storm-${corpus}`);
    const countsAtStart = await emulator.stats();
    const others = othersCpu([], checkoutMarkers);
    const start = nowMs() + 50;
    const storm: { start?: number; end?: number; counts?: EmulatorCounts; stormCounts?: EmulatorCounts } = {};
    switcher = (async () => {
      await sleep(start + opts.beforeSeconds * 1000 - nowMs());
      if (!keepGoing()) return;
      const countsAtStorm = await emulator.stats();
      storm.start = (await emulator.faults({ fail: { match: protocol.name, status: 429, retryAfterSeconds: opts.retryAfterSeconds, ratio: opts.stormRatio } })).returnedAt;
      progress(`storm ${corpus}: ${opts.stormRatio * 100}% of ${protocol.label} requests answered ${protocol.stormAnswer} (retryAfterSeconds ${opts.retryAfterSeconds}) for ${opts.stormSeconds} s`);
      await sleep(start + (opts.beforeSeconds + opts.stormSeconds) * 1000 - nowMs());
      storm.end = (await emulator.faults({ clear: true })).returnedAt;
      storm.stormCounts = countsBetween(countsAtStorm, await emulator.stats());
      progress(`storm ${corpus}: storm over (${storm.stormCounts.throttled} of ${storm.stormCounts[protocol.name]} ${protocol.label} requests throttled)`);
    })();
    progress(`storm ${corpus}: ${count} messages at ${opts.rate}/s: ${opts.beforeSeconds} s before, ${opts.stormSeconds} s storm, ${opts.afterSeconds} s after`);
    const run = await deliverPaced(emulator, mailroom.user, messages, intervalMs, { keepGoing, startAt: start });
    await switcher;
    const lastDeliveryAt = nowMs();
    const ids = run.delivered.map((d) => d.messageId);
    const missing = await probe.settle(ids, opts.settleSeconds * 1000);
    const settledAt = nowMs();
    const othersCpuSeconds = others();
    progress(`storm ${corpus}: ${run.delivered.length - missing}/${run.delivered.length} shown ${Math.round(settledAt - lastDeliveryAt)} ms after the last delivery`);
    const ackWait = Date.now() + 15_000;
    while (Date.now() < ackWait && emulator.unread(mailroom.user) > 0) await sleep(50);
    const unreadAtEmulator = emulator.unread(mailroom.user);
    const wholeRun = countsBetween(countsAtStart, await emulator.stats());
    await status.stop();
    const byApi = await interactionsByMessageId(mailroom.api, mailroom.mailboxId);
    const delivered = new Set(ids);

    if (storm.start === undefined || storm.end === undefined) throw new Error("interrupted before the storm ended");
    const stormStart = storm.start;
    const stormEnd = storm.end;
    const shownAt = (id: string) => probe!.shown(id)?.eventAt;
    const latency = (from: number, to: number) =>
      summarize(run.delivered.filter((d) => d.returnedAt >= from && d.returnedAt < to).map((d) => (shownAt(d.messageId) ?? settledAt) - d.returnedAt));
    const result: StormCorpusResult = {
      corpus,
      rate: opts.rate,
      seconds: { before: opts.beforeSeconds, storm: opts.stormSeconds, after: opts.afterSeconds },
      messageSizes: sizes(messages),
      catchUpSeconds: opts.catchUpSeconds,
      catchUpVariable: protocol.catchUpVariable,
      delivered: run.delivered.length,
      committed: ids.filter((id) => byApi.has(id)).length,
      lost: ids.filter((id) => !byApi.has(id)).length,
      duplicates: ids.filter((id) => (byApi.get(id) ?? 0) > 1).length,
      duplicatesByEvents: Object.keys(probe.duplicates()).length,
      unexpected: [...byApi.keys()].filter((id) => !delivered.has(id)).length,
      committedDuringStorm: ids.filter((id) => {
        const at = shownAt(id);
        return at !== undefined && at >= stormStart && at < stormEnd;
      }).length,
      unreadAtEmulator,
      settleMs: Math.round(settledAt - lastDeliveryAt),
      recovery: recovery({ delivered: run.delivered, shownAt, start, stormStart, stormEnd, end: settledAt, missing }),
      latencyMs: { before: latency(start, stormStart), storm: latency(stormStart, stormEnd), after: latency(stormEnd, Number.POSITIVE_INFINITY) },
      emulator: { wholeRun, storm: storm.stormCounts! },
      statusChanges: status.changes.map((c) => ({ atMs: Math.round(c.at - stormStart), state: c.state, code: c.code, message: c.message })),
      readyMs: mailroom.readyMs,
      scheduleLateMaxMs: run.lateMaxMs,
      othersCpuSeconds,
      eventStreamEnded: probe.streamEnded,
      apiErrors: probe.apiErrors,
      log: summarizeLog(mailroom.proc.output()),
    };
    const r = result.recovery;
    progress(
      `storm ${corpus}: ${result.delivered} delivered, ${result.committed} committed, ${result.lost} lost, ${result.duplicates} duplicated, ${unreadAtEmulator} unread; ` +
        `recovery ${r.recoveryMs ?? "never"} ms (backlog ${r.backlogCommittedMs ?? "never"}, caught up ${r.caughtUpMs ?? "never"}, throughput ${r.throughputRecoveredMs ?? "never"})`,
    );
    return result;
  } finally {
    await switcher?.catch(() => undefined);
    await emulator.faults({ clear: true }).catch(() => undefined);
    await status?.stop();
    await stopProbe?.();
    await mailroom?.stop();
    await stopEmulator();
  }
}
