import { defaultOutboxOptions } from "../../src/runners/outbox-sender.js";
import { ApiProbe, type ApiFigures } from "../ingest/api-probe.js";
import { nowMs, sleep } from "../lib/clock.js";
import { cpuSeconds, othersCpu, peakRssKb } from "../lib/processes.js";
import { round1 } from "../lib/stats.js";
import { arrivalFigures, type ArrivalFigures } from "./arrivals.js";
import type { PreparedMailroom } from "./setup.js";
import type { SinkProcess } from "./sink.js";

const pollMs = 20;

export interface MailroomDrainFigures {
  messages: number;
  /** rows the sender had claimed before the release (its first claim, waiting at the sink) */
  claimedBeforeRelease: number;
  /** MAIL FROM the sink answered at the release */
  heldAtSink: number;
  /** from the release until the sink has the last message */
  sinkMs: number;
  /** the throughput target's figure: messages over sinkMs */
  msgPerSec: number;
  /** from the release until every outbox row is `sent` in the database (what GET /api/v1/outbound/:id answers), polled every 20 ms */
  allSentMs: number;
  /** messages over the later of sinkMs and allSentMs: sent as the user sees it */
  msgPerSecAllSent: number;
  /** msgPerSec over the same run's bare msg/s; set by the run */
  ratio: number;
  arrivals: ArrivalFigures;
  /** outbox rows by attempts: all 1 when nothing was tried again */
  attempts: Record<string, number>;
  /** GET /api/v1/outbound/:id for a sample of the replies after the drain, by state */
  apiSample: Record<string, number>;
  sessions: number;
  cpuSeconds: number;
  /** Mailroom's CPU seconds per second of the drain: near 1 and more is CPU-bound, well below waits */
  cpuShare: number;
  sinkCpuSeconds: number;
  othersCpuSeconds: number;
  peakRssMb: number;
  api: ApiFigures;
}

/**
 * Mailroom's drain: the outbox holds `count` replies, the sender's first claim waits at the holding
 * sink; the clock starts when the sink answers those MAIL FROM (and from then on every one), and runs
 * until the sink has every message and the database says every row is sent. The API probe runs from
 * just before the release to the end.
 */
export async function measureDrain(prep: PreparedMailroom, sink: SinkProcess, count: number): Promise<Omit<MailroomDrainFigures, "ratio">> {
  const { mailroom, db } = prep;
  const held = await sink.held();
  if (held.received) throw new Error(`the holding sink already has ${held.received} messages`);
  const probe = new ApiProbe(mailroom.api.base, prep.api.token);
  const pid = mailroom.proc.pid;
  const others = othersCpu([pid, sink.pid], []);
  const cpuBefore = cpuSeconds(pid);
  const sinkCpuBefore = sink.cpuSeconds();
  probe.start();
  const received = sink.expect(count, Math.max(120_000, count * 100));
  let lastAt: number | null = null;
  received.then(
    (r) => (lastAt = r.lastAt),
    () => undefined,
  );
  const release = await sink.release();
  let allSentAt = 0;
  const deadline = Date.now() + Math.max(120_000, count * 100);
  while (!allSentAt || lastAt === null) {
    if (Date.now() > deadline) throw new Error(`the drain did not end in time: ${JSON.stringify(db.states())}, sink ${lastAt === null ? "waiting" : "done"}`);
    await sleep(pollMs);
    if (!allSentAt) {
      const states = db.states();
      if (states["failed"]) throw new Error(`${states["failed"]} replies failed: ${JSON.stringify(states)}`);
      if ((states["sent"] ?? 0) === count) allSentAt = nowMs();
    }
  }
  await received;
  const othersCpuSeconds = others();
  const api = await probe.stop();
  const mailroomCpu = cpuSeconds(pid) - cpuBefore;
  const stats = await sink.stats();
  if (stats.received !== count || stats.distinctMessageIds !== count) {
    throw new Error(`the sink got ${stats.received} messages with ${stats.distinctMessageIds} distinct Message-IDs, for ${count} replies`);
  }
  const attempts = db.attempts();
  if (Object.keys(attempts).some((a) => a !== "1")) {
    // e.g. a held send that timed out and was tried again: the drain measured a retry
    throw new Error(`some replies needed more than one attempt: ${JSON.stringify(attempts)}`);
  }
  const apiSample: Record<string, number> = {};
  const step = Math.max(1, Math.floor(prep.outboundIds.length / 20));
  for (let i = prep.outboundIds.length - 1; i >= 0; i -= step) {
    const view = await prep.api.call<{ state: string }>("GET", `/api/v1/outbound/${prep.outboundIds[i]}`);
    apiSample[view.state] = (apiSample[view.state] ?? 0) + 1;
  }
  const sinkMs = stats.arrivals[stats.arrivals.length - 1]! - release.at;
  const allSentMs = allSentAt - release.at;
  return {
    messages: count,
    claimedBeforeRelease: prep.heldAtRelease,
    heldAtSink: release.held,
    sinkMs: Math.round(sinkMs),
    msgPerSec: round1((count / sinkMs) * 1000),
    allSentMs: Math.round(allSentMs),
    msgPerSecAllSent: round1((count / Math.max(sinkMs, allSentMs)) * 1000),
    arrivals: arrivalFigures(stats.arrivals, release.at, { size: defaultOutboxOptions.batch, firstBatch: prep.heldAtRelease }),
    attempts,
    apiSample,
    sessions: stats.sessions,
    cpuSeconds: round1(mailroomCpu),
    cpuShare: Math.round((mailroomCpu / (Math.max(sinkMs, allSentMs) / 1000)) * 100) / 100,
    sinkCpuSeconds: round1(sink.cpuSeconds() - sinkCpuBefore),
    othersCpuSeconds,
    peakRssMb: Math.round(peakRssKb(pid) / 1024),
    api,
  };
}
