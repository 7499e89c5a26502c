import fs from "node:fs";
import { ApiClient, startMailroomProcess, type MailroomProcess } from "../../test/support/mailroom-process.js";
import { freePort } from "../../test/support/net.js";
import { progress, waitUntil } from "../lib/clock.js";
import { benchTempDir } from "../lib/mailroom.js";
import { stopPid, type Cleanup } from "../lib/processes.js";
import type { MicrosoftEmulator } from "./emulator.js";
import type { MicrosoftProtocol } from "./protocol.js";

export interface MicrosoftMailroom {
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
 * temp data dir, trusting the emulator's CA, with the protocol's environment; then, only through its
 * API, a queue, an inbound mailbox of the protocol's kind on the emulator for a new emulator user, and
 * an enabled application listing it. Resolves once the emulator holds Mailroom's subscription for the
 * user and the mailbox's status is ok.
 */
export async function startMicrosoftMailroom(
  cleanup: Cleanup,
  emulator: MicrosoftEmulator,
  protocol: MicrosoftProtocol,
  opts: { user: string; name: string; catchUpSeconds: number; nodeArgs: string[] },
): Promise<MicrosoftMailroom> {
  const dataDir = benchTempDir(`mailroom-bench-${protocol.name}-`);
  const removeDir = cleanup.add(`data dir ${dataDir}`, async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const proc = await startMailroomProcess({
    dataDir,
    port,
    nodeArgs: opts.nodeArgs,
    env: { MAILROOM_TRUSTED_CA_FILE: emulator.caFile, ...protocol.env(port, opts.catchUpSeconds) },
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
    await emulator.addUser(opts.user, protocol.password);
    const box = await api.call<{ id: string }>("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: opts.name,
      host: "127.0.0.1",
      port: emulator.port,
      security: "tls",
      ...protocol.mailboxFields(emulator, opts.user),
    });
    const started = Date.now();
    await api.call("POST", "/api/v1/applications", { name: opts.name, enabled: true, queueId: queue.id, mailboxIds: [box.id] });
    const subscriptionId = await waitUntil("Mailroom's subscription at the emulator", 30_000, 50, () => protocol.subscription(emulator, opts.user, proc.base));
    await waitUntil("the mailbox to report status ok", 30_000, 50, async () => {
      const view = await api.call<{ status: { state: string } }>("GET", `/api/v1/mailboxes/${box.id}`);
      return view.status.state === "ok";
    });
    const readyMs = Date.now() - started;
    progress(`mailroom ${proc.pid} at ${proc.base}: ${opts.user} subscribed (${subscriptionId}) and ok after ${readyMs} ms`);
    return { proc, api, mailboxId: box.id, user: opts.user, subscriptionId, readyMs, stop };
  } catch (err) {
    const output = proc.output();
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nMailroom printed:\n${output.slice(-4000)}`, { cause: err });
  }
}
