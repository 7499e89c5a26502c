import { doubleOwned, ownership, startCluster, type Cluster, type ClusterNode, type NodesView } from "../../test/support/cluster.js";
import { sleep } from "./clock.js";
import fs from "node:fs";
import path from "node:path";
import { benchTempDir } from "./mailroom.js";
import { openFilesLimit, raiseOpenFiles, rssKb, treeRssKb, type Cleanup } from "./processes.js";
import { median } from "./stats.js";

/**
 * What `bench:nodes` needs around the tests' cluster harness (test/support/cluster.ts): nodes that
 * collect garbage on a signal, their memory, the wait for an even spread with every mailbox ok, and the
 * warnings they logged.
 */

export interface BenchClusterOptions {
  nodes: number;
  mailboxes: number;
  leaseSeconds: number | undefined;
  /** the private PostgreSQL server's `…/postgres` URL; the cluster makes a database of its own there */
  pgUrl: string;
  mailroomNodeArgs: string[];
}

/**
 * On SIGUSR2: a full GC, then the process's `process.memoryUsage()` written to
 * `$BENCH_MEMORY_DIR/<pid>.json`. A node flag (`--import`), not Mailroom code: Mailroom is unchanged.
 */
const memoryOnSignal = `data:text/javascript,${encodeURIComponent(
  'import fs from "node:fs"; process.on("SIGUSR2", () => { globalThis.gc?.(); const dir = process.env.BENCH_MEMORY_DIR; if (!dir) return; ' +
    'const file = `${dir}/${process.pid}.json`; fs.writeFileSync(`${file}.tmp`, JSON.stringify(process.memoryUsage())); fs.renameSync(`${file}.tmp`, file); });',
)}`;

let memoryDir: string | undefined;

/**
 * Real `mailroom start` processes (compiled unless BENCH_FROM_SOURCE=1) on a fresh database, one
 * Dovecot user per mailbox, every mailbox listed by one application that is still disabled: the nodes
 * start idle, so their memory can be read before they run anything. Each node gets `--expose-gc` and a
 * SIGUSR2 handler (memoryOnSignal) through node flags, as bench:ingest's scale scenario does. Stopped by
 * the cleanup, or earlier by calling what this returns.
 */
export async function startBenchCluster(cleanup: Cleanup, opts: BenchClusterOptions): Promise<{ cluster: Cluster; stop: () => Promise<void> }> {
  if (!memoryDir) {
    const dir = benchTempDir("mailroom-bench-memory-");
    memoryDir = dir;
    cleanup.add(`memory dir ${dir}`, async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      memoryDir = undefined;
    });
  }
  const cluster = await startCluster({
    nodes: opts.nodes,
    mailboxes: opts.mailboxes,
    leaseSeconds: opts.leaseSeconds,
    pgUrl: opts.pgUrl,
    compiled: process.env["BENCH_FROM_SOURCE"] !== "1",
    nodeArgs: ["--expose-gc", "--import", memoryOnSignal, ...opts.mailroomNodeArgs],
    env: { BENCH_MEMORY_DIR: memoryDir },
    enabled: false,
  });
  const stop = cleanup.add(`cluster of ${opts.nodes} node(s) (nodes, Dovecot, database)`, () => cluster.stop());
  for (const node of cluster.nodes) ensureOpenFiles(node, opts.mailboxes);
  return { cluster, stop };
}

/** A node holds one IMAP connection per mailbox it runs: its open-files limit must exceed them. */
export function ensureOpenFiles(node: ClusterNode, mailboxes: number): void {
  const needed = mailboxes + 500;
  if (needed > openFilesLimit()) raiseOpenFiles(node.process.pid, needed);
}

export function isRunning(node: ClusterNode): boolean {
  return node.process.child.exitCode === null && node.process.child.signalCode === null;
}

export interface NodeMemory {
  /** VmRSS before the first forced GC */
  rssNoGcKb: number;
  /** VmRSS after forced GCs: the median of the last three readings */
  rssKb: number;
  /** the same, with the node's children (its parse worker processes) */
  treeRssKb: number;
  /** V8's heapUsed and external (with arrayBuffers) after the GC, as the process reported them: live objects, without the pages V8 keeps */
  heapUsedKb: number;
  externalKb: number;
  /** every reading of VmRSS, each a few seconds after two forced GCs */
  readingsKb: number[];
  /** whether the last three readings came within stableKb of each other before maxRounds */
  stable: boolean;
}

const minRounds = 3;
const maxRounds = 10;
const afterGcMs = 3_000;
/** readings of a steady process jitter by about 1 MB */
const stableKb = 2_048;

/**
 * The node's memory after forced GCs (SIGUSR2, see startBenchCluster). V8 hands freed pages back some
 * seconds after a GC, not at once, and a process that started a few seconds ago still drops by ~30 MB
 * later (seen: 140 MB for 10 s after the GC, then 108 MB, then steady within ±1 MB). So: rounds of two
 * GCs a second apart and a reading 3 s later, until the last three readings lie within 2 MB (at least
 * 3 rounds, at most 10, ~4 s each); the figure is their median.
 */
export async function nodeMemory(node: ClusterNode): Promise<NodeMemory> {
  const pid = node.process.pid;
  const rssNoGcKb = rssKb(pid);
  const readings: { rss: number; tree: number; heapUsed: number; external: number }[] = [];
  const reported = path.join(memoryDir ?? "", `${pid}.json`);
  const lastThree = () => readings.slice(-3);
  const steady = () => readings.length >= minRounds && Math.max(...lastThree().map((r) => r.rss)) - Math.min(...lastThree().map((r) => r.rss)) <= stableKb;
  while (readings.length < maxRounds && !steady()) {
    process.kill(pid, "SIGUSR2");
    await sleep(1_000);
    process.kill(pid, "SIGUSR2");
    await sleep(afterGcMs);
    const usage = JSON.parse(fs.readFileSync(reported, "utf8")) as { heapUsed: number; external: number };
    readings.push({ rss: rssKb(pid), tree: treeRssKb(pid), heapUsed: Math.round(usage.heapUsed / 1024), external: Math.round(usage.external / 1024) });
  }
  return {
    rssNoGcKb,
    rssKb: median(lastThree().map((r) => r.rss)),
    treeRssKb: median(lastThree().map((r) => r.tree)),
    heapUsedKb: median(lastThree().map((r) => r.heapUsed)),
    externalKb: median(lastThree().map((r) => r.external)),
    readingsKb: readings.map((r) => r.rss),
    stable: steady(),
  };
}

interface MailboxListItem {
  id: string;
  status: { state: string; nodeId?: string } | null;
}

/** Every inbound mailbox's status as GET /api/v1/mailboxes answers it on the node. */
export async function mailboxStatuses(node: ClusterNode): Promise<Map<string, MailboxListItem["status"]>> {
  const { items } = await node.api.call<{ items: MailboxListItem[] }>("GET", "/api/v1/mailboxes?clientType=inbound");
  return new Map(items.map((m) => [m.id, m.status]));
}

/** The mailboxes among `ids` whose status is not ok or not written by the node that owns them in the view. */
export function notOkUnderOwner(view: NodesView, statuses: Map<string, MailboxListItem["status"]>, ids: readonly string[]): string[] {
  const owned = ownership(view);
  const idOf = new Map(view.items.map((n) => [n.name, n.id]));
  return ids.filter((id) => {
    const status = statuses.get(id);
    const owner = owned.get(id);
    return !status || status.state !== "ok" || !owner || owner.length !== 1 || status.nodeId !== idOf.get(owner[0]!);
  });
}

export const sharesOf = (view: NodesView): Record<string, number> => Object.fromEntries(view.items.map((n) => [n.name, n.mailboxIds.length]));

export interface Spread {
  /** from the call until the spread was reached (the hold time not included) */
  ms: number;
  /** Date.now() when it was reached */
  reachedAt: number;
  shares: Record<string, number>;
  view: NodesView;
}

/**
 * Waits until GET /api/v1/nodes lists exactly the `live` nodes, every mailbox under one of them, none
 * above the fair share (ceil(mailboxes / nodes), the most a node takes), and GET /api/v1/mailboxes shows
 * every mailbox ok, written by its owner, for `holdMs` in a row. Fails after `deadlineMs`, or when a
 * live node has ended, saying what it saw.
 */
export async function untilSpread(cluster: Cluster, live: ClusterNode[], deadlineMs: number, holdMs = 2_000): Promise<Spread> {
  const started = Date.now();
  const n = cluster.mailboxIds.length;
  const share = Math.ceil(n / live.length);
  const names = live.map((node) => node.name).sort();
  const ask = cluster.nodes.indexOf(live[0]!);
  const statusNode = live[1 % live.length]!;
  let reachedAt: number | null = null;
  let said = "no answer yet";
  for (;;) {
    for (const node of live) {
      if (!isRunning(node)) throw new Error(`${node.name} ended by itself while the nodes were spreading the mailboxes:\n${node.process.output().slice(-3000)}`);
    }
    try {
      const view = await cluster.nodesView(ask);
      const owned = ownership(view);
      const even =
        view.items.map((item) => item.name).sort().join() === names.join() &&
        owned.size === n &&
        doubleOwned(view).length === 0 &&
        view.items.every((item) => item.mailboxIds.length <= share);
      let notOk: string[] = [];
      if (even) notOk = notOkUnderOwner(view, await mailboxStatuses(statusNode), cluster.mailboxIds);
      said = `${JSON.stringify(sharesOf(view))}, ${owned.size} of ${n} owned, ${doubleOwned(view).length} twice${even ? `, ${notOk.length} not ok under their owner` : ""}`;
      if (even && notOk.length === 0) {
        reachedAt ??= Date.now();
        if (Date.now() - reachedAt >= holdMs) return { ms: reachedAt - started, reachedAt, shares: sharesOf(view), view };
      } else {
        reachedAt = null;
      }
    } catch (err) {
      said = `asking failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() - started > deadlineMs) throw new Error(`no even spread of ${n} mailboxes over ${names.join(", ")} with every mailbox ok after ${Math.round(deadlineMs / 1000)} s: ${said}`);
    await sleep(250);
  }
}

/**
 * The warnings and errors a node logged (pino JSON at warn and above: the nodes run at
 * MAILROOM_LOG_LEVEL=warn), by message, from `fromOffset` of its output on.
 */
export function loggedWarnings(node: ClusterNode, fromOffset = 0): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of node.process.output().slice(fromOffset).split("\n")) {
    // the one line a node prints without pino, once it listens
    if (!line.trim() || line.startsWith("Mailroom is ready")) continue;
    let key: string;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } | string };
      if ((entry.level ?? 0) < 40) continue;
      const detail = typeof entry.err === "string" ? entry.err : entry.err?.message;
      key = `${entry.level! >= 50 ? "error" : "warn"}: ${entry.msg ?? ""}${detail ? ` (${detail.slice(0, 160)})` : ""}`;
    } catch {
      key = `(not JSON) ${line.slice(0, 160)}`;
    }
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
