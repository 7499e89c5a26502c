/**
 * Several Mailroom nodes on one PostgreSQL: memory per mailbox on each of three nodes against one node
 * running them all (measured in the same run), and failover after kill -9 of a node: how soon its
 * mailboxes have a live owner and are ok again, and the API's latency on the survivors meanwhile.
 * Prints one JSON document on stdout (progress on stderr); a missed target is a figure, not a failure.
 * See bench/README.md.
 */
import fs from "node:fs";
import type { Cluster, ClusterNode } from "../test/support/cluster.js";
import { startPostgres } from "../test/support/postgres.js";
import { progress, sleep, waitUntil } from "./lib/clock.js";
import { ensureOpenFiles, loggedWarnings, nodeMemory, startBenchCluster, untilSpread, type NodeMemory } from "./lib/nodes-cluster.js";
import { failover, type FailoverRun } from "./lib/nodes-failover.js";
import { parseNodesOptions, type NodesOptions } from "./lib/nodes-options.js";
import { openFilesLimit, type Cleanup } from "./lib/processes.js";
import { startRun, targetCheck, writeReport, type TargetCheck } from "./lib/run.js";
import { median, percentile, round1 } from "./lib/stats.js";

const spreadDeadlineMs = 300_000;

interface PerMailbox {
  /** (VmRSS of the node process with its mailboxes ok − the same idle) / its mailboxes, KB: what the target reads */
  processKb: number;
  /** the same with its parse worker process (which holds no connection, and whose heap no signal collects) */
  treeKb: number;
  /** V8's heapUsed and external after the GC, the same way: live memory only, steadier than RSS (a diagnostic) */
  heapUsedKb: number;
  externalKb: number;
}

const perMailbox = (idle: NodeMemory, loaded: NodeMemory, mailboxes: number): PerMailbox => ({
  processKb: round1((loaded.rssKb - idle.rssKb) / mailboxes),
  treeKb: round1((loaded.treeRssKb - idle.treeRssKb) / mailboxes),
  heapUsedKb: round1((loaded.heapUsedKb - idle.heapUsedKb) / mailboxes),
  externalKb: round1((loaded.externalKb - idle.externalKb) / mailboxes),
});

/** The warnings and errors each node logged, the most frequent first (at most 15 per node). */
function warningsOf(nodes: ClusterNode[]): Record<string, Record<string, number>> {
  return Object.fromEntries(
    nodes.map((node) => [node.name, Object.fromEntries(Object.entries(loggedWarnings(node)).sort((a, b) => b[1] - a[1]).slice(0, 15))]),
  );
}

/** Enables the application that lists every mailbox and waits for the spread; the time from the PATCH. */
async function enableAll(cluster: Cluster, live: ClusterNode[]): Promise<{ ms: number; shares: Record<string, number> }> {
  const started = Date.now();
  await live[0]!.api.call("PATCH", `/api/v1/applications/${cluster.applicationId}`, { enabled: true });
  const spread = await untilSpread(cluster, live, spreadDeadlineMs);
  return { ms: spread.reachedAt - started, shares: spread.shares };
}

async function settle(opts: NodesOptions, what: string): Promise<void> {
  progress(`${what}: settling ${opts.settleSeconds} s before memory is read`);
  await sleep(opts.settleSeconds * 1000);
}

async function oneNode(opts: NodesOptions, pgUrl: string, cleanup: Cleanup) {
  progress(`one node: starting it with ${opts.mailboxes} mailboxes, all disabled`);
  const { cluster, stop } = await startBenchCluster(cleanup, { ...opts, nodes: 1, pgUrl });
  try {
    const node = cluster.nodes[0]!;
    await settle(opts, "one node, idle");
    const idle = await nodeMemory(node);
    progress(`one node: enabling ${opts.mailboxes} mailboxes`);
    const enabled = await enableAll(cluster, [node]);
    progress(`one node: all ${opts.mailboxes} ok after ${enabled.ms} ms`);
    await settle(opts, "one node, all ok");
    const loaded = await nodeMemory(node);
    return {
      mailboxes: opts.mailboxes,
      inotifyMaxUserInstances: Number(fs.readFileSync("/proc/sys/fs/inotify/max_user_instances", "utf8").trim()),
      idle,
      loaded,
      perMailbox: perMailbox(idle, loaded, opts.mailboxes),
      enableToAllOkMs: enabled.ms,
      warnings: warningsOf(cluster.nodes),
    };
  } finally {
    await stop();
  }
}

function seedMessage(i: number, to: string): Buffer {
  return Buffer.from(
    `From: Customer ${i} <c${i}@example.test>\r\nTo: ${to}\r\nSubject: Order ${i}\r\nMessage-ID: <seed-${i}@nodes.bench>\r\n` +
      `Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello, order ${i} has not arrived. Could you look into it?\r\n`,
  );
}

/** One message per mailbox, stored: GET /api/v1/interactions?limit=50 then answers 50 rows, as a help desk's would. */
async function seedInteractions(cluster: Cluster): Promise<{ messages: number; ms: number }> {
  const started = Date.now();
  const n = cluster.users.length;
  for (let from = 0; from < n; from += 50) {
    await Promise.all(cluster.users.slice(from, from + 50).map((user, k) => cluster.deliver(user, [seedMessage(from + k, user)])));
  }
  await waitUntil(`${n} seeded interactions`, 300_000, 250, async () => {
    const [row] = await cluster.query<{ n: number }>("select count(*)::int as n from interactions");
    return (row?.n ?? 0) >= n;
  });
  return { messages: n, ms: Date.now() - started };
}

async function threeNodes(opts: NodesOptions, pgUrl: string, cleanup: Cleanup) {
  progress(`three nodes: starting them with ${opts.mailboxes} mailboxes, all disabled`);
  const { cluster } = await startBenchCluster(cleanup, { ...opts, nodes: 3, pgUrl });
  const live = [...cluster.nodes];
  await settle(opts, "three nodes, idle");
  const idle = await Promise.all(live.map(nodeMemory));
  progress(`three nodes: enabling ${opts.mailboxes} mailboxes`);
  const enabled = await enableAll(cluster, live);
  progress(`three nodes: spread ${JSON.stringify(enabled.shares)}, all ok after ${enabled.ms} ms`);
  await settle(opts, "three nodes, all ok");
  const loaded = await Promise.all(live.map(nodeMemory));
  progress(`three nodes: seeding one message per mailbox`);
  const seeded = await seedInteractions(cluster);
  const nodes = Object.fromEntries(
    live.map((node, i) => {
      const mailboxes = enabled.shares[node.name] ?? 0;
      return [node.name, { mailboxes, idle: idle[i]!, loaded: loaded[i]!, perMailbox: perMailbox(idle[i]!, loaded[i]!, mailboxes) }];
    }),
  );
  return { cluster, live, result: { mailboxes: opts.mailboxes, nodes, enableToSpreadAllOkMs: enabled.ms, seeded } };
}

type FailoverRunResult = FailoverRun & { restart: { readyMs: number; respreadMs: number; shares: Record<string, number> } | null };

async function failovers(opts: NodesOptions, cluster: Cluster, initial: ClusterNode[], errors: Record<string, string>): Promise<FailoverRunResult[]> {
  const runs: FailoverRunResult[] = [];
  let live = initial;
  for (let run = 1; run <= opts.runs; run++) {
    // run 1 kills node-3, run 2 node-2, run 3 node-1, …
    const byName = [...live].sort((a, b) => a.name.localeCompare(b.name));
    const victim = byName[byName.length - 1 - ((run - 1) % byName.length)]!;
    try {
      const result = await failover(cluster, live, victim, run, opts);
      progress(
        `failover ${run}: owner p50/p99/max ${result.ownerMs.p50}/${result.ownerMs.p99}/${result.ownerMs.max} ms, ok p50/p99/max ${result.okMs.p50}/${result.okMs.p99}/${result.okMs.max} ms`,
      );
      let restart: FailoverRunResult["restart"] = null;
      live = live.filter((node) => node !== victim);
      if (run < opts.runs) {
        progress(`failover ${run}: restarting ${victim.name}, waiting for the spread again`);
        const started = Date.now();
        const restarted = await cluster.addNode(victim.name);
        ensureOpenFiles(restarted, opts.mailboxes);
        const readyMs = Date.now() - started;
        live = [...live, restarted];
        const spread = await untilSpread(cluster, live, spreadDeadlineMs);
        restart = { readyMs, respreadMs: spread.ms, shares: spread.shares };
      }
      runs.push({ ...result, restart });
    } catch (err) {
      errors[`failover run ${run}`] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      progress(`failover ${run}: broke: ${errors[`failover run ${run}`]}`);
      break;
    }
  }
  return runs;
}

/** Each node's per-mailbox figure over the one node's, by node name. */
function ratios(nodes: Record<string, { perMailbox: PerMailbox }>, one: PerMailbox, figure: keyof PerMailbox): Record<string, number> {
  return Object.fromEntries(Object.entries(nodes).map(([name, n]) => [name, Math.round((n.perMailbox[figure] / one[figure]) * 100) / 100]));
}

function failoverMedian(runs: FailoverRunResult[]) {
  const of = (pick: (r: FailoverRunResult) => number) => round1(median(runs.map(pick)));
  const api = (r: FailoverRunResult, phase: "beforeKill" | "duringFailover") => Math.max(...Object.values(r.api[phase]).map((f) => f.p99));
  const pooled = (pick: (r: FailoverRunResult) => number[]) => runs.flatMap(pick);
  return {
    runs: runs.length,
    ownerMs: { p50: of((r) => r.ownerMs.p50), p95: of((r) => r.ownerMs.p95), p99: of((r) => r.ownerMs.p99), max: of((r) => r.ownerMs.max) },
    okMs: { p50: of((r) => r.okMs.p50), p95: of((r) => r.okMs.p95), p99: of((r) => r.okMs.p99), max: of((r) => r.okMs.max) },
    /** every mailbox of every run together */
    pooled: {
      ownerMs: { p99: percentile(pooled((r) => r.samples.ownerMs), 99), max: Math.max(...pooled((r) => r.samples.ownerMs)) },
      okMs: { p99: percentile(pooled((r) => r.samples.okMs), 99), max: Math.max(...pooled((r) => r.samples.okMs)) },
    },
    missing: runs.reduce((n, r) => n + r.ownerMs.missing + r.okMs.missing, 0),
    apiP99WorstMs: { beforeKill: Math.max(...runs.map((r) => api(r, "beforeKill"))), duringFailover: Math.max(...runs.map((r) => api(r, "duringFailover"))) },
    apiErrors: runs.reduce((n, r) => n + Object.values(r.api.duringFailover).reduce((m, f) => m + f.errors, 0), 0),
  };
}

function targets(one: Awaited<ReturnType<typeof oneNode>> | undefined, three: Awaited<ReturnType<typeof threeNodes>>["result"] | undefined, med: ReturnType<typeof failoverMedian> | undefined): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (one && three) {
    const ratios = Object.values(three.nodes).map((n) => n.perMailbox.processKb / one.perMailbox.processKb);
    const worst = Math.round(Math.max(...ratios) * 100) / 100;
    checks.push(targetCheck("memory", "memory per mailbox per node over the one-node figure, worst of the three nodes", "<= 1.2", worst, worst <= 1.2));
  }
  if (med && med.runs > 0) {
    const n = med.runs;
    checks.push(targetCheck("failover", `ms from kill -9 until a dead node's mailbox is listed under a live node, p99, median of ${n} runs`, "<= 10000", med.ownerMs.p99, med.ownerMs.p99 <= 10_000));
    checks.push(targetCheck("failover", `mailboxes of the killed node never owned or never ok again before the deadline, ${n} runs`, "= 0", med.missing, med.missing === 0));
    checks.push(
      targetCheck("failover", `API p99 ms on every surviving node during the failover, worst node of ${n} runs`, "<= 100", med.apiP99WorstMs.duringFailover, med.apiP99WorstMs.duringFailover <= 100),
    );
  }
  return checks;
}

const options = parseNodesOptions(process.argv.slice(2), process.env);
const run = startRun();
const errors: Record<string, string> = {};
const broke = (phase: string, err: unknown) => {
  errors[phase] = err instanceof Error ? (err.stack ?? err.message) : String(err);
  progress(`${phase}: broke: ${errors[phase]}`);
};
let one: Awaited<ReturnType<typeof oneNode>> | undefined;
let three: Awaited<ReturnType<typeof threeNodes>> | undefined;
let runs: FailoverRunResult[] = [];
try {
  progress("starting a private PostgreSQL");
  const pg = await startPostgres();
  run.cleanup.add("postgresql", async () => pg.stop());
  try {
    one = await oneNode(options, pg.url, run.cleanup);
  } catch (err) {
    broke("oneNode", err);
  }
  if (!run.interrupted()) {
    try {
      three = await threeNodes(options, pg.url, run.cleanup);
    } catch (err) {
      broke("threeNodes", err);
    }
  }
  if (three && !run.interrupted()) runs = await failovers(options, three.cluster, three.live, errors);
} catch (err) {
  broke("setup", err);
}
const med = runs.length ? failoverMedian(runs) : undefined;
const results = {
  parseWorkersPerNode: 1,
  openFilesLimit: openFilesLimit(),
  memoryMethod:
    "each node's VmRSS after forced GCs (rounds of two GCs and a reading 3 s later until the last 3 readings lie within 2 MB; their median), read idle (every mailbox disabled) and again once its mailboxes are ok, " +
    "each after --settle-seconds; per mailbox = (loaded − idle) / the mailboxes the node runs; treeRssKb adds the node's parse worker (reported, not in the target); " +
    "heapUsedKb and externalKb are what the process reported after the same GCs (process.memoryUsage(), through the signal handler), a steadier diagnostic",
  ...(one ? { oneNode: one } : {}),
  ...(three
    ? {
        threeNodes: {
          ...three.result,
          ratioToOneNode: one ? ratios(three.result.nodes, one.perMailbox, "processKb") : null,
          /** the same of V8's heapUsed: a diagnostic, not the target */
          heapUsedRatioToOneNode: one ? ratios(three.result.nodes, one.perMailbox, "heapUsedKb") : null,
          warnings: warningsOf(three.cluster.nodes),
        },
      }
    : {}),
  ...(three ? { failover: { runs, median: med ?? null } } : {}),
  ...(Object.keys(errors).length ? { errors } : {}),
};
const leftovers = await run.cleanup.runAll();
if (leftovers.length) progress(`cleanup: ${leftovers.join("; ")}`);
writeReport("nodes", run, { options, targets: targets(one, three?.result, med), results });
process.exitCode = Object.keys(errors).length ? 1 : 0;
