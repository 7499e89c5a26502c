import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { openTestDb, type TestDb } from "./dialects.js";
import { startDovecot, type Dovecot, type DovecotOptions } from "./dovecot.js";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "./mailroom-process.js";

/**
 * Several real `mailroom start` processes on one fresh PostgreSQL database, with one private Dovecot
 * whose users are their IMAP mailboxes (one user per mailbox), all enabled by one application.
 */

/** One entry of GET /api/v1/nodes. */
export interface NodeEntry {
  id: string;
  name: string;
  startedAt: string;
  lastHeartbeatAt: string;
  mailboxIds: string[];
}

/** GET /api/v1/nodes as one node answered it: `sentAt` and `at` (answer received) are this process's clock, ms. */
export interface NodesView {
  sentAt: number;
  at: number;
  items: NodeEntry[];
}

export interface ClusterNode {
  /** MAILROOM_NODE_NAME */
  name: string;
  process: MailroomProcess;
  /** signed in as admin on this node */
  api: ApiClient;
  dataDir: string;
}

export interface ClusterOptions {
  nodes: number;
  mailboxes: number;
  /** MAILROOM_LEASE_SECONDS of every node; undefined leaves it unset (Mailroom's default) */
  leaseSeconds: number | undefined;
  /** merged into the options the cluster's Dovecot starts with */
  dovecotOptions?: DovecotOptions;
  /** more environment for every node */
  env?: Record<string, string>;
  /**
   * The PostgreSQL server (its `…/postgres` URL) to make the cluster's database on, for a caller outside
   * vitest (a benchmark); by default the test run's server.
   */
  pgUrl?: string;
  /** run the compiled server in dist/ (build it first) instead of the sources through tsx */
  compiled?: boolean;
  /** node flags for every node, e.g. ["--expose-gc"] */
  nodeArgs?: string[];
  /**
   * Whether the application that lists every mailbox is created enabled (the default); when false the
   * nodes start with nothing to run until the caller enables it (`applicationId`).
   */
  enabled?: boolean;
}

export interface Cluster {
  pgUrl: string;
  dovecot: Dovecot;
  leaseSeconds: number | undefined;
  /** the application that lists every mailbox */
  applicationId: string;
  /** every node started, in order; a killed one stays listed (its process has exited) */
  nodes: ClusterNode[];
  /** index i: mailbox i's id, its name in Mailroom and its Dovecot user */
  mailboxIds: string[];
  mailboxNames: string[];
  users: string[];
  userOf(mailboxId: string): string;
  node(name: string): ClusterNode;
  /** starts one more node on the same database */
  addNode(name: string): Promise<ClusterNode>;
  /** GET /api/v1/nodes on one node, with a deadline (a paused node never answers) */
  nodesView(nodeIndex: number): Promise<NodesView>;
  /** mailbox id → the name of the node that owns it, as node `nodeIndex` sees it; throws when one is listed twice */
  owners(nodeIndex?: number): Promise<Map<string, string>>;
  /** the node's id in /api/v1/nodes (new at every start), once the node lists itself */
  nodeId(name: string, askIndex?: number): Promise<string>;
  /** polls GET /api/v1/nodes on a node until stop() */
  watch(nodeIndex: number, everyMs?: number): ViewRecorder;
  /** Dovecot.deliver, never twice for a user within one second (its file names would collide) */
  deliver(user: string, raws: Buffer[]): Promise<void>;
  /** SIGSTOP / SIGCONT a node; stop() lets a paused node run again before ending it */
  pause(node: ClusterNode): void;
  resume(node: ClusterNode): void;
  /** a query on the cluster's database */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** ends the nodes, Dovecot and the database, and removes their files */
  stop(): Promise<void>;
}

export interface ViewRecorder {
  /** every view received so far, oldest first */
  readonly views: NodesView[];
  /** requests that failed or timed out */
  readonly failures: number;
  stop(): Promise<NodesView[]>;
}

const adminPassword = "admin-password-1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mailbox id → the names of the nodes that list it in the view (more than one: a double owner) */
export function ownership(view: NodesView): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const node of view.items) for (const id of node.mailboxIds) out.set(id, [...(out.get(id) ?? []), node.name]);
  return out;
}

/** The mailboxes a view lists under more than one node, with those nodes. */
export function doubleOwned(view: NodesView): { mailboxId: string; nodes: string[] }[] {
  return [...ownership(view)].filter(([, nodes]) => nodes.length > 1).map(([mailboxId, nodes]) => ({ mailboxId, nodes }));
}

/** node name → how many mailboxes it owns in the view */
export function shares(view: NodesView): Map<string, number> {
  return new Map(view.items.map((n) => [n.name, n.mailboxIds.length]));
}

/**
 * For each mailbox, the longest run of consecutive views that list it under no node: from the first
 * view without an owner to the next view with one (or to the last view), in ms.
 */
export function longestOwnerGaps(views: NodesView[], mailboxIds: string[]): Map<string, number> {
  const gaps = new Map(mailboxIds.map((id) => [id, 0]));
  const missingSince = new Map<string, number>();
  for (const view of views) {
    const owned = ownership(view);
    for (const id of mailboxIds) {
      const since = missingSince.get(id);
      if (!owned.has(id)) {
        if (since === undefined) missingSince.set(id, view.at);
        continue;
      }
      if (since !== undefined) {
        gaps.set(id, Math.max(gaps.get(id)!, view.at - since));
        missingSince.delete(id);
      }
    }
  }
  const last = views.at(-1);
  for (const [id, since] of missingSince) gaps.set(id, Math.max(gaps.get(id)!, (last?.at ?? since) - since));
  return gaps;
}

/**
 * Dovecot keeps an inotify instance per IDLE session and, past fs.inotify.max_user_instances for its mail
 * user (128 on many kernels), falls back to looking every 30 s: mail would reach IDLE late.
 */
function raiseInotifyInstances(needed: number): void {
  const file = "/proc/sys/fs/inotify/max_user_instances";
  const current = Number(fs.readFileSync(file, "utf8").trim());
  if (current >= needed) return;
  try {
    execFileSync("sysctl", ["-w", `fs.inotify.max_user_instances=${needed}`], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`Dovecot needs fs.inotify.max_user_instances >= ${needed} for this many IDLE sessions (it is ${current}); raise it as root: ${String(err)}`);
  }
}

async function fetchView(base: string, token: string): Promise<NodesView> {
  const sentAt = Date.now();
  const res = await fetch(`${base}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /api/v1/nodes → ${res.status} ${text}`);
  return { sentAt, at: Date.now(), items: (JSON.parse(text) as { items: NodeEntry[] }).items };
}

function isRunning(proc: MailroomProcess): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** SIGTERM, and SIGKILL when the process has not ended within the grace time. */
async function endProcess(proc: MailroomProcess, graceMs = 15_000): Promise<void> {
  if (!isRunning(proc)) return;
  const stopped = proc.stop();
  const timer = sleep(graceMs).then(() => "late" as const);
  if ((await Promise.race([stopped.then(() => "done" as const), timer])) === "late") await proc.kill9();
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  raiseInotifyInstances(Math.max(1024, 4 * opts.mailboxes + 256));
  const secretKey = randomBytes(32).toString("hex");
  const users = Array.from({ length: opts.mailboxes }, (_, i) => `box${i}@cluster.test`);
  const password = (i: number) => `pw-box-${i}`;
  // one IDLE session per mailbox, and room for the moments when a handover or a reconnect overlaps
  const sessions = 2 * opts.mailboxes + 100;
  const cleanups: (() => Promise<void>)[] = [];
  const nodes: ClusterNode[] = [];
  const paused = new Set<ClusterNode>();
  let store: TestDb | undefined;
  let pool: pg.Pool | undefined;
  let dovecot: Dovecot | undefined;

  const stop = async () => {
    for (const node of paused) if (isRunning(node.process)) process.kill(node.process.pid, "SIGCONT");
    paused.clear();
    await Promise.all(nodes.map((n) => endProcess(n.process)));
    for (const n of nodes) fs.rmSync(n.dataDir, { recursive: true, force: true });
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  };

  try {
    store = await openTestDb("postgres", opts.pgUrl === undefined ? {} : { pgUrl: opts.pgUrl });
    const testDb = store;
    cleanups.push(() => testDb.cleanup());
    if (store.databaseConfig.dialect !== "postgres") throw new Error("a cluster needs PostgreSQL");
    const pgUrl = store.databaseConfig.url;
    pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
    const queryPool = pool;
    cleanups.push(() => queryPool.end());

    dovecot = await startDovecot({
      ...opts.dovecotOptions,
      users: users.map((name, i) => ({ name, password: password(i) })),
      extra: { imapProcessLimit: sessions, clientLimit: sessions, ...opts.dovecotOptions?.extra },
    });
    const mail = dovecot;
    cleanups.push(() => mail.stop());

    const startNode = async (name: string): Promise<ClusterNode> => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-node-"));
      try {
        const proc = await startMailroomProcess({
          dataDir,
          database: { dialect: "postgres", url: pgUrl },
          env: {
            MAILROOM_SECRET_KEY: secretKey,
            MAILROOM_NODE_NAME: name,
            ...(opts.leaseSeconds === undefined ? {} : { MAILROOM_LEASE_SECONDS: String(opts.leaseSeconds) }),
            // two cores run all the nodes: one parse worker each
            MAILROOM_PARSE_WORKERS: "1",
            ...opts.env,
          },
          ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
          ...(opts.compiled ? { compiled: true } : {}),
        });
        const node: ClusterNode = { name, process: proc, api: new ApiClient(proc.base), dataDir };
        nodes.push(node);
        node.api = await ApiClient.login(proc.base, "admin", adminPassword);
        return node;
      } catch (err) {
        if (!nodes.some((n) => n.dataDir === dataDir)) fs.rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    };

    // the first node creates the admin user; the others start together
    const first = await startNode("node-1");
    await Promise.all(Array.from({ length: opts.nodes - 1 }, (_, i) => startNode(`node-${i + 2}`)));

    const api = first.api;
    const queue = await api.call<{ id: string }>("POST", "/api/v1/queues", { name: "Cluster" });
    const mailboxIds: string[] = [];
    const mailboxNames = users.map((_, i) => `cluster_box_${i}`);
    for (let from = 0; from < users.length; from += 25) {
      const batch = users.slice(from, from + 25).map((user, k) =>
        api.call<{ id: string }>("POST", "/api/v1/mailboxes", {
          clientType: "inbound",
          name: mailboxNames[from + k],
          type: "IMAP",
          mailbox: user,
          password: password(from + k),
          host: mail.host,
          port: mail.imapPort,
          security: "none",
          maxSizeMb: 5,
        }),
      );
      mailboxIds.push(...(await Promise.all(batch)).map((m) => m.id));
    }
    const application = await api.call<{ id: string }>("POST", "/api/v1/applications", { name: "Cluster", enabled: opts.enabled ?? true, queueId: queue.id, mailboxIds });

    const userById = new Map(mailboxIds.map((id, i) => [id, users[i]!]));
    const lastDelivery = new Map<string, number>();

    const cluster: Cluster = {
      pgUrl,
      dovecot: mail,
      leaseSeconds: opts.leaseSeconds,
      applicationId: application.id,
      nodes,
      mailboxIds,
      mailboxNames,
      users,
      userOf(mailboxId) {
        const user = userById.get(mailboxId);
        if (user === undefined) throw new Error(`no mailbox ${mailboxId} in this cluster`);
        return user;
      },
      node(name) {
        const node = nodes.find((n) => n.name === name);
        if (!node) throw new Error(`no node ${name} in this cluster`);
        return node;
      },
      addNode: startNode,
      nodesView(nodeIndex) {
        const node = nodes[nodeIndex];
        if (!node) throw new Error(`no node ${nodeIndex}`);
        return fetchView(node.api.base, node.api.token);
      },
      async owners(nodeIndex = 0) {
        const view = await cluster.nodesView(nodeIndex);
        const doubles = doubleOwned(view);
        if (doubles.length) throw new Error(`mailboxes listed under two nodes at once: ${JSON.stringify(doubles.slice(0, 5))}`);
        return new Map([...ownership(view)].map(([id, names]) => [id, names[0]!]));
      },
      async nodeId(name, askIndex = 0) {
        const until = Date.now() + 30_000;
        for (;;) {
          const entry = (await cluster.nodesView(askIndex)).items.find((n) => n.name === name);
          if (entry) return entry.id;
          if (Date.now() > until) throw new Error(`node ${name} is not listed in GET /api/v1/nodes after 30 s`);
          await sleep(100);
        }
      },
      watch(nodeIndex, everyMs = 150) {
        const views: NodesView[] = [];
        let failures = 0;
        let running = true;
        const loop = (async () => {
          while (running) {
            try {
              views.push(await cluster.nodesView(nodeIndex));
            } catch {
              failures++;
            }
            if (running) await sleep(everyMs);
          }
        })();
        return {
          views,
          get failures() {
            return failures;
          },
          async stop() {
            running = false;
            await loop;
            return views;
          },
        };
      },
      async deliver(user, raws) {
        // Dovecot.deliver names each file by the second and its index in the call: a second call for the
        // same user within that second would overwrite the first one's files
        while (Math.floor(Date.now() / 1000) <= (lastDelivery.get(user) ?? -1)) await sleep(1000 - (Date.now() % 1000) + 5);
        const delivered = mail.deliver(user, raws);
        // the name's second was taken synchronously, at or before this moment
        lastDelivery.set(user, Math.floor(Date.now() / 1000));
        await delivered;
      },
      pause(node) {
        process.kill(node.process.pid, "SIGSTOP");
        paused.add(node);
      },
      resume(node) {
        paused.delete(node);
        if (isRunning(node.process)) process.kill(node.process.pid, "SIGCONT");
      },
      async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
        return (await queryPool.query<R>(text, values)).rows;
      },
      stop,
    };
    return cluster;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
