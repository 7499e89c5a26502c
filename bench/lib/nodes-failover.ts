import { doubleOwned, ownership, type Cluster, type ClusterNode, type NodesView } from "../../test/support/cluster.js";
import { nowMs, progress, sleep } from "./clock.js";
import { isRunning, loggedWarnings, mailboxStatuses, notOkUnderOwner, sharesOf } from "./nodes-cluster.js";
import type { NodesOptions } from "./nodes-options.js";
import { cpuSeconds, othersCpu } from "./processes.js";
import { MailboxStatusStream } from "./status-events.js";
import { ApiProbe, type ApiFigures } from "../ingest/api-probe.js";
import { eventLoopLag } from "./event-loop-lag.js";
import { percentile, round1, summarize, type Summary } from "./stats.js";

/** GET /api/v1/nodes on a survivor, this often, from just before the kill */
const viewEveryMs = 100;
/** the API check that every mailbox of the killed node is ok under its new owner, this often */
const confirmEveryMs = 1_000;
const confirmDeadlineMs = 30_000;

export interface WaitFigures extends Summary {
  p95: number;
  /** mailboxes for which it never happened before the deadline: they count with the time waited */
  missing: number;
}

export interface FailoverRun {
  run: number;
  victim: string;
  survivors: string[];
  sharesBeforeKill: Record<string, number>;
  victimMailboxes: number;
  /** ms from the kill until GET /api/v1/nodes on a survivor lists the mailbox under a live node */
  ownerMs: WaitFigures;
  /** ms from the kill until the survivor's event stream carries the mailbox's `mailbox.status` ok (after its new runner's `connecting`) */
  okMs: WaitFigures;
  /** per mailbox, in the order of the killed node's mailbox ids: ms to owner, ms to ok (a missing one: the time waited) */
  samples: { ownerMs: number[]; okMs: number[] };
  /** ms from the kill until the last mailbox was owned / ok: the end of the failover window */
  windowMs: number;
  /**
   * GET /api/v1/interactions?limit=50 back to back (20 ms pauses): on every node before the kill, on each
   * survivor from the kill to the window's end; slow requests are placed in ms after the kill
   */
  api: { beforeKill: Record<string, ApiFigures>; duringFailover: Record<string, ApiFigures> };
  /**
   * Diagnostics of the API's latency, on each survivor in the window: GET /healthz (no database) probed the
   * same way (slow here too: the event loop was blocked; slow only above: the database or its pool), and
   * the event loop's delay as prom-client measured it (GET /metrics), also for every node before the kill
   */
  diagnostics: {
    healthzDuringFailover: Record<string, ApiFigures>;
    eventLoopLagMs: { beforeKill: Record<string, LagFigures>; duringFailover: Record<string, LagFigures> };
    database: DatabaseActivity;
  };
  /** the API's word at the end: every mailbox of the killed node ok, with its status written by the node that owns it */
  confirmed: { ms: number | null; notOkUnderOwner: number; examples: string[] };
  views: { polledOn: string; count: number; failures: number; meanIntervalMs: number; doubleOwned: number };
  statusStream: { on: string; events: number; resyncs: number; ended: string | null };
  sharesAfter: Record<string, number>;
  /** CPU seconds in the failover window: each survivor (its parse worker not included), and the rest of the machine */
  cpuSeconds: Record<string, number> & { others: number };
  /** what the survivors logged at warn and above during the run, by message */
  survivorWarnings: Record<string, Record<string, number>>;
}

type LagFigures = Awaited<ReturnType<typeof eventLoopLag>>;

export interface DatabaseActivity {
  /** pg_stat_activity of the cluster's database, sampled every 100 ms in the window (client backends, this sampler's own left out) */
  samples: number;
  max: { connections: number; active: number; idleInTransaction: number; waitingOnLock: number };
  meanActive: number;
  /** what active backends waited on, summed over the samples (type:event → backend-samples), the most frequent first */
  waits: Record<string, number>;
}

/** Samples pg_stat_activity every 100 ms until `running()` turns false. */
async function sampleDatabase(cluster: Cluster, running: () => boolean): Promise<DatabaseActivity> {
  const max = { connections: 0, active: 0, idleInTransaction: 0, waitingOnLock: 0 };
  const waits: Record<string, number> = {};
  let samples = 0;
  let activeSum = 0;
  while (running()) {
    const rows = await cluster.query<{ state: string | null; wait_type: string; wait_event: string; n: number }>(
      `select state, coalesce(wait_event_type, '') as wait_type, coalesce(wait_event, '') as wait_event, count(*)::int as n
         from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
        group by 1, 2, 3`,
    );
    const count = (pick: (r: (typeof rows)[number]) => boolean) => rows.filter(pick).reduce((n, r) => n + r.n, 0);
    const active = count((r) => r.state === "active");
    samples++;
    activeSum += active;
    max.connections = Math.max(max.connections, count(() => true));
    max.active = Math.max(max.active, active);
    max.idleInTransaction = Math.max(max.idleInTransaction, count((r) => r.state === "idle in transaction"));
    max.waitingOnLock = Math.max(max.waitingOnLock, count((r) => r.wait_type === "Lock"));
    for (const r of rows) if (r.state === "active" && r.wait_type) waits[`${r.wait_type}:${r.wait_event}`] = (waits[`${r.wait_type}:${r.wait_event}`] ?? 0) + r.n;
    await sleep(100);
  }
  return { samples, max, meanActive: samples ? round1(activeSum / samples) : 0, waits: Object.fromEntries(Object.entries(waits).sort((a, b) => b[1] - a[1]).slice(0, 10)) };
}

/** Each node's event-loop delay since its last scrape, by node name. */
async function lagOf(nodes: ClusterNode[]): Promise<Record<string, LagFigures>> {
  const lags = await Promise.all(nodes.map((node) => eventLoopLag(node.api.base, node.api.token)));
  return Object.fromEntries(nodes.map((node, i) => [node.name, lags[i]!]));
}

/** Holds GET /api/v1/interactions?limit=50 in a loop on each node for `seconds`; the figures by node name. */
async function apiWhile(nodes: ClusterNode[], seconds: number): Promise<Record<string, ApiFigures>> {
  const probes = nodes.map((node) => new ApiProbe(node.api.base, node.api.token));
  for (const probe of probes) probe.start();
  await sleep(seconds * 1000);
  const figures = await Promise.all(probes.map((probe) => probe.stop()));
  return Object.fromEntries(nodes.map((node, i) => [node.name, figures[i]!]));
}

function waitFigures(values: (number | null)[], waitedMs: number): WaitFigures {
  const all = values.map((v) => v ?? waitedMs);
  return { ...summarize(all), p95: round1(percentile(all, 95)), missing: values.filter((v) => v === null).length };
}

/**
 * One failover: `victim` gets SIGKILL while every node is spread evenly with every mailbox ok. For each of
 * its mailboxes: the time until a survivor lists it under a live node, and until its new runner's status
 * ok reaches a survivor's event stream; meanwhile the API's latency on each survivor. The caller restarts
 * the node afterwards.
 */
export async function failover(cluster: Cluster, live: ClusterNode[], victim: ClusterNode, run: number, opts: NodesOptions): Promise<FailoverRun> {
  const survivors = live.filter((node) => node !== victim);
  const [viewsOn, streamOn] = [survivors[0]!, survivors[1 % survivors.length]!];
  const logOffsets = new Map(survivors.map((node) => [node, node.process.output().length]));

  progress(`failover ${run}: API on every node for ${opts.apiBeforeSeconds} s before the kill`);
  await lagOf(live);
  const beforeKill = await apiWhile(live, opts.apiBeforeSeconds);
  const lagBeforeKill = await lagOf(live);

  const stream = await MailboxStatusStream.open(streamOn.api.base, streamOn.api.token);
  const recorder = cluster.watch(cluster.nodes.indexOf(viewsOn), viewEveryMs);
  const probes = survivors.map((node) => new ApiProbe(node.api.base, node.api.token));
  const healthz = survivors.map((node) => new ApiProbe(node.api.base, node.api.token, { path: "/healthz" }));
  let views: NodesView[] = [];
  let windowOpen = true;
  let database: Promise<DatabaseActivity> | undefined;
  try {
    const before = await cluster.nodesView(cluster.nodes.indexOf(viewsOn));
    const victimId = before.items.find((n) => n.name === victim.name)?.id;
    const victimMailboxes = before.items.find((n) => n.id === victimId)?.mailboxIds ?? [];
    if (victimMailboxes.length === 0) throw new Error(`${victim.name} runs no mailbox before the kill: ${JSON.stringify(sharesOf(before))}`);
    const pids = survivors.map((node) => node.process.pid);
    const cpu0 = pids.map(cpuSeconds);
    const others = othersCpu(pids, ["dovecot", "postgres"]);
    await lagOf(survivors);
    const killMono = nowMs();
    for (const probe of [...probes, ...healthz]) probe.start(killMono);

    database = sampleDatabase(cluster, () => windowOpen);
    // awaited at the window's end; a failure meanwhile must not count as unhandled
    database.catch(() => undefined);
    const killAt = Date.now();
    progress(`failover ${run}: kill -9 ${victim.name} (PID ${victim.process.pid}), which runs ${victimMailboxes.length} mailboxes`);
    await victim.process.kill9();

    // the first view sent after the kill that lists the mailbox under a live node; the first ok after a connecting
    const ownerAt = new Map<string, number>();
    const okAt = new Map<string, number>();
    const connectingAt = new Map<string, number>();
    const wanted = new Set(victimMailboxes);
    let seenViews = 0;
    let seenEvents = 0;
    const deadline = killAt + opts.failoverDeadlineSeconds * 1000;
    while (ownerAt.size < wanted.size || okAt.size < wanted.size) {
      for (; seenViews < recorder.views.length; seenViews++) {
        const view = recorder.views[seenViews]!;
        if (view.sentAt < killAt) continue;
        for (const [id, names] of ownership(view)) {
          if (wanted.has(id) && !ownerAt.has(id) && names.some((name) => name !== victim.name)) ownerAt.set(id, view.at);
        }
      }
      for (; seenEvents < stream.events.length; seenEvents++) {
        const event = stream.events[seenEvents]!;
        if (event.at < killAt || !wanted.has(event.mailboxId)) continue;
        if (event.state === "connecting" && !connectingAt.has(event.mailboxId)) connectingAt.set(event.mailboxId, event.at);
        if (event.state === "ok" && connectingAt.has(event.mailboxId) && !okAt.has(event.mailboxId)) okAt.set(event.mailboxId, event.at);
      }
      for (const node of survivors) {
        if (!isRunning(node)) throw new Error(`${node.name} ended by itself during the failover:\n${node.process.output().slice(-3000)}`);
      }
      if (Date.now() > deadline) {
        progress(`failover ${run}: deadline: ${ownerAt.size} of ${wanted.size} owned, ${okAt.size} ok`);
        break;
      }
      await sleep(50);
    }
    const windowEnd = Date.now();
    windowOpen = false;
    const duringFailover = await Promise.all(probes.map((probe) => probe.stop()));
    const healthzFigures = await Promise.all(healthz.map((probe) => probe.stop()));
    const sampled = await database;
    const lagDuringFailover = await lagOf(survivors);
    const cpu = Object.fromEntries(survivors.map((node, i) => [node.name, round1(cpuSeconds(pids[i]!) - cpu0[i]!)]));
    const othersSeconds = others();
    progress(`failover ${run}: all owned after ${Math.max(0, ...ownerAt.values()) - killAt} ms, ok after ${Math.max(0, ...okAt.values()) - killAt} ms; confirming through the API`);

    // the API's word: every mailbox of the killed node ok, written by the node the nodes view says owns it
    let confirmedMs: number | null = null;
    let notOk: string[] = victimMailboxes;
    const confirmUntil = Date.now() + confirmDeadlineMs;
    while (confirmedMs === null && Date.now() < confirmUntil) {
      const view = await cluster.nodesView(cluster.nodes.indexOf(viewsOn));
      notOk = notOkUnderOwner(view, await mailboxStatuses(streamOn), victimMailboxes);
      if (notOk.length === 0) confirmedMs = Date.now() - killAt;
      else await sleep(confirmEveryMs);
    }
    views = await recorder.stop();
    const after = await cluster.nodesView(cluster.nodes.indexOf(viewsOn));
    const waited = windowEnd - killAt;
    const ownerSamples = victimMailboxes.map((id) => (ownerAt.has(id) ? ownerAt.get(id)! - killAt : null));
    const okSamples = victimMailboxes.map((id) => (okAt.has(id) ? okAt.get(id)! - killAt : null));
    const polled = views.filter((v) => v.sentAt >= killAt);
    return {
      run,
      victim: victim.name,
      survivors: survivors.map((node) => node.name),
      sharesBeforeKill: sharesOf(before),
      victimMailboxes: victimMailboxes.length,
      ownerMs: waitFigures(ownerSamples, waited),
      okMs: waitFigures(okSamples, waited),
      samples: { ownerMs: ownerSamples.map((v) => v ?? waited), okMs: okSamples.map((v) => v ?? waited) },
      windowMs: waited,
      api: { beforeKill, duringFailover: Object.fromEntries(survivors.map((node, i) => [node.name, duringFailover[i]!])) },
      diagnostics: {
        healthzDuringFailover: Object.fromEntries(survivors.map((node, i) => [node.name, healthzFigures[i]!])),
        eventLoopLagMs: { beforeKill: lagBeforeKill, duringFailover: lagDuringFailover },
        database: sampled,
      },
      confirmed: { ms: confirmedMs, notOkUnderOwner: notOk.length, examples: notOk.slice(0, 5) },
      views: {
        polledOn: viewsOn.name,
        count: polled.length,
        failures: recorder.failures,
        meanIntervalMs: polled.length > 1 ? Math.round((polled.at(-1)!.at - polled[0]!.at) / (polled.length - 1)) : 0,
        doubleOwned: views.reduce((n, v) => n + doubleOwned(v).length, 0),
      },
      statusStream: { on: streamOn.name, events: stream.events.filter((e) => e.at >= killAt).length, resyncs: stream.resyncs, ended: stream.ended },
      sharesAfter: sharesOf(after),
      cpuSeconds: { ...cpu, others: othersSeconds },
      survivorWarnings: Object.fromEntries(survivors.map((node) => [node.name, loggedWarnings(node, logOffsets.get(node))])),
    };
  } finally {
    windowOpen = false;
    await database?.catch(() => undefined);
    for (const probe of [...probes, ...healthz]) await probe.stop();
    await recorder.stop();
    stream.close();
  }
}
