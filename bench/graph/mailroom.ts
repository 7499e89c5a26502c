import fs from "node:fs";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../../test/support/mailroom-process.js";
import { freePort } from "../../test/support/net.js";
import { progress, waitUntil } from "../lib/clock.js";
import { benchTempDir } from "../lib/mailroom.js";
import { stopPid, type Cleanup } from "../lib/processes.js";
import type { GraphEmulator } from "./emulator.js";

export interface GraphMailroom {
  proc: MailroomProcess;
  api: ApiClient;
  mailboxId: string;
  /** the emulator user the mailbox reads */
  user: string;
  /** the subscription Mailroom made at the emulator */
  subscriptionId: string;
  /** how long from the POST of the enabled application until the subscription existed and the mailbox was ok */
  readyMs: number;
  stop(): Promise<void>;
}

/**
 * A real `mailroom start` process (compiled, or through tsx with BENCH_FROM_SOURCE=1) with SQLite in a
 * temp data dir, trusting the emulator's CA, reachable by the emulator's notifications at
 * MAILROOM_PUBLIC_URL=http://127.0.0.1:<port>; then, only through its API, a queue, a GRAPH inbound
 * mailbox on the emulator (client credentials) and an enabled application listing it. Resolves once
 * the emulator holds Mailroom's subscription for the user and the mailbox's status is ok.
 */
export async function startGraphMailroom(
  cleanup: Cleanup,
  emulator: GraphEmulator,
  opts: { user: string; name: string; catchUpSeconds: number; nodeArgs: string[] },
): Promise<GraphMailroom> {
  const dataDir = benchTempDir("mailroom-bench-graph-");
  const removeDir = cleanup.add(`data dir ${dataDir}`, async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const proc = await startMailroomProcess({
    dataDir,
    port,
    nodeArgs: opts.nodeArgs,
    env: {
      MAILROOM_TRUSTED_CA_FILE: emulator.caFile,
      MAILROOM_PUBLIC_URL: `http://127.0.0.1:${port}`,
      MAILROOM_GRAPH_CATCHUP_SECONDS: String(opts.catchUpSeconds),
    },
    compiled: process.env["BENCH_FROM_SOURCE"] !== "1",
  });
  const stopProc = cleanup.add(`mailroom ${proc.pid}`, () => stopPid(proc.pid, 15_000));
  const stop = async () => {
    await stopProc();
    await removeDir();
  };
  try {
    const api = await ApiClient.login(proc.base);
    const queue = await api.call<{ id: string }>("POST", "/api/v1/queues", { name: "Bench" });
    await emulator.addUser(opts.user);
    const ms = emulator.ms;
    const box = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: opts.name,
      type: "GRAPH",
      mailbox: opts.user,
      host: "127.0.0.1",
      port: emulator.port,
      security: "tls",
      auth: { method: "oauth2", grant: "client_credentials", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority },
      clientSecret: ms.clientSecret,
    });
    const started = Date.now();
    await api.call("POST", "/api/v1/applications", { name: opts.name, enabled: true, queueId: queue.id, mailboxIds: [box.id] });
    const subscription = await waitUntil("Mailroom's subscription at the emulator", 30_000, 50, async () =>
      (await emulator.subscriptions()).find((s) => s.resource.includes(opts.user) && s.notificationUrl.startsWith(proc.base)),
    );
    await waitUntil("the mailbox to report status ok", 30_000, 50, async () => {
      const view = await api.call<{ status: { state: string } }>("GET", `/api/v1/mailboxes/${box.id}`);
      return view.status.state === "ok";
    });
    const readyMs = Date.now() - started;
    progress(`mailroom ${proc.pid} at ${proc.base}: ${opts.user} subscribed (${subscription.id}) and ok after ${readyMs} ms`);
    return { proc, api, mailboxId: box.id, user: opts.user, subscriptionId: subscription.id, readyMs, stop };
  } catch (err) {
    const output = proc.output();
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nMailroom printed:\n${output.slice(-4000)}`, { cause: err });
  }
}

export interface MailroomLogSummary {
  /** warnings and errors Mailroom logged, counted by message (and code) */
  counts: Record<string, number>;
  /** the first few lines of each kind, as printed */
  samples: string[];
}

/** What Mailroom printed: log lines at warn level and above (MAILROOM_LOG_LEVEL=warn) counted by message and code, other lines by their text. */
export function summarizeLog(output: string): MailroomLogSummary {
  const counts: Record<string, number> = {};
  const samples: string[] = [];
  const perKind = new Map<string, number>();
  for (const line of output.split("\n")) {
    if (!line.trim()) continue;
    let key: string;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; code?: string };
      if ((entry.level ?? 0) < 40) continue;
      key = `${entry.msg ?? "(no msg)"}${entry.code ? ` [${entry.code}]` : ""}`;
    } catch {
      // Node's own warnings (e.g. MaxListenersExceededWarning), without the PID
      key = line.replace(/^\(node:\d+\) /, "").slice(0, 160);
    }
    counts[key] = (counts[key] ?? 0) + 1;
    const n = perKind.get(key) ?? 0;
    perKind.set(key, n + 1);
    if (n < 2 && samples.length < 12) samples.push(line.slice(0, 600));
  }
  return { counts, samples };
}
