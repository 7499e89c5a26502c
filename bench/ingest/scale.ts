import { execFileSync } from "node:child_process";
import { startDovecot } from "../../test/support/dovecot.js";
import { bareClient } from "../lib/bare-imap.js";
import { nowMs, progress, sleep, waitUntil } from "../lib/clock.js";
import { createImapMailbox, MailroomDbReader, startBenchMailroom, type BenchMailroom, defaultParseWorkers } from "../lib/mailroom.js";
import { openFilesLimit, rssKb, treeRssKb, type Cleanup } from "../lib/processes.js";
import { round1 } from "../lib/stats.js";
import { BareIdleProcess, type BareMemory } from "./bare-idle.js";
import { LatencyProbe, type LatencyFigures } from "./latency-probe.js";
import { sendSingles } from "./latency.js";
import type { IngestOptions } from "./options.js";

const password = "bench-pw";
const pad = (i: number) => String(i).padStart(4, "0");
const mailroomUser = (i: number) => `mr${pad(i)}@scale.test`;
const twinUser = (i: number) => `tw${pad(i)}@scale.test`;

export interface ScaleResult {
  mailboxes: number;
  inotifyMaxUserInstances: number;
  openFilesLimit: number;
  settleSeconds: number;
  bare: {
    one: BareMemory;
    all: BareMemory;
    connectAllMs: number;
    perConnectionKb: number;
  };
  mailroom: {
    oneRssKb: number;
    allRssKb: number;
    /** with N mailboxes, after the GC: the process and its children (the parse workers) together */
    allTreeRssKb: number;
    /** the same two readings before the forced GC */
    oneRssNoGcKb: number;
    allRssNoGcKb: number;
    perMailboxKb: number;
    createMailboxesMs: number;
    /** from the PATCH that enables the rest until every mailbox reports status ok */
    allOkMs: number;
  };
  latency: LatencyFigures;
}

/** RSS of the Mailroom process before and after a forced GC, and of it with its children after, in kB. */
async function mailroomRss(mailroom: BenchMailroom): Promise<{ noGc: number; afterGc: number; tree: number }> {
  const noGc = rssKb(mailroom.proc.pid);
  mailroom.collectGarbage();
  await sleep(1_000);
  mailroom.collectGarbage();
  await sleep(1_000);
  return { noGc, afterGc: rssKb(mailroom.proc.pid), tree: treeRssKb(mailroom.proc.pid) };
}

/**
 * Many mailboxes on one node: memory and time to connect N mailboxes in Mailroom against a bare
 * process holding N imapflow connections in IDLE, and new-mail latency with all N connected.
 */
export async function scaleScenario(opts: IngestOptions, cleanup: Cleanup): Promise<ScaleResult> {
  const n = opts.mailboxes;
  // one inotify instance per IDLE session: past the default 128, Dovecot falls back to a 30 s check
  execFileSync("sysctl", ["-w", "fs.inotify.max_user_instances=4096"], { stdio: "pipe" });
  const inotify = Number(execFileSync("sysctl", ["-n", "fs.inotify.max_user_instances"], { encoding: "utf8" }).trim());
  if (inotify < 2 * n + 100) throw new Error(`fs.inotify.max_user_instances is ${inotify}, too low for ${2 * n} IDLE sessions`);
  const users = [...Array.from({ length: n }, (_, i) => mailroomUser(i)), ...Array.from({ length: n }, (_, i) => twinUser(i))];
  const limit = 2 * n + 300;
  const dovecot = await startDovecot({ users: users.map((name) => ({ name, password })), extra: { clientLimit: limit, imapProcessLimit: limit } });
  const stopDovecot = cleanup.add("dovecot (scale)", () => dovecot.stop());
  const twins = Array.from({ length: n }, (_, i) => twinUser(i));
  let bareAll: BareIdleProcess | undefined;
  let mailroom: BenchMailroom | undefined;
  let probe: LatencyProbe | undefined;
  try {
    progress(`scale: bare process with 1 IDLE connection, settling ${opts.settleSeconds} s`);
    const bareOne = await BareIdleProcess.start(cleanup, { port: dovecot.imapPort, users: twins.slice(0, 1), password });
    await sleep(opts.settleSeconds * 1000);
    const one = await bareOne.memory();
    await bareOne.stop();

    progress(`scale: bare process with ${n} IDLE connections`);
    bareAll = await BareIdleProcess.start(cleanup, { port: dovecot.imapPort, users: twins, password, inFlight: 50 });
    progress(`scale: bare connected ${n} in ${bareAll.connectMs} ms, settling ${opts.settleSeconds} s`);
    await sleep(opts.settleSeconds * 1000);
    const all = await bareAll.memory();

    mailroom = await startBenchMailroom(cleanup, { parseWorkers: defaultParseWorkers, openFiles: n + 500, nodeArgs: opts.mailroomNodeArgs });
    progress(`scale: creating ${n} disabled mailboxes through the API`);
    const createStart = nowMs();
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(await createImapMailbox(mailroom.api, { name: `mr${pad(i)}`, login: mailroomUser(i), password, port: dovecot.imapPort }));
    }
    const createMailboxesMs = Math.round(nowMs() - createStart);
    const db = new MailroomDbReader(mailroom.dbFile);
    const app = await mailroom.api.call<{ id: string }>("POST", "/api/v1/applications", { name: "scale", enabled: true, queueId: mailroom.queueId, mailboxIds: ids.slice(0, 1) });
    await waitUntil("the first mailbox to report status ok", 30_000, 50, () => db.statusCounts().ok === 1);
    progress(`scale: Mailroom with 1 mailbox, settling ${opts.settleSeconds} s`);
    await sleep(opts.settleSeconds * 1000);
    const rssOne = await mailroomRss(mailroom);

    progress(`scale: enabling ${n} mailboxes in one PATCH`);
    const enableStart = nowMs();
    await mailroom.api.call("PATCH", `/api/v1/applications/${app.id}`, { mailboxIds: ids });
    await waitUntil(`${n} mailboxes to report status ok`, 300_000, 50, () => {
      const counts = db.statusCounts();
      if ((counts.error ?? 0) > 0) throw new Error(`${counts.error} mailboxes report an error: ${JSON.stringify(counts)}`);
      return counts.ok === n;
    });
    const allOkMs = Math.round(nowMs() - enableStart);
    progress(`scale: all ${n} mailboxes ok after ${allOkMs} ms, settling ${opts.settleSeconds} s`);
    await sleep(opts.settleSeconds * 1000);
    const rssAll = await mailroomRss(mailroom);

    progress(`scale: new-mail latency on ${opts.scaleSamples} random mailbox/twin pairs`);
    probe = await LatencyProbe.start({ api: mailroom.api, bare: bareAll, probedMailboxIds: ids, db });
    const latency = await sendSingles(probe, {
      count: opts.scaleSamples,
      label: "scale",
      next: async () => {
        const i = Math.floor(Math.random() * n);
        const appenders = { mailroom: bareClient(dovecot.imapPort, mailroomUser(i), password), twin: bareClient(dovecot.imapPort, twinUser(i), password) };
        await Promise.all([appenders.mailroom.connect(), appenders.twin.connect()]);
        const done = async () => {
          for (const c of Object.values(appenders)) await c.logout().catch(() => c.close());
        };
        return { pair: { mailroomUser: mailroomUser(i), twinUser: twinUser(i) }, appenders, done };
      },
    });
    return {
      mailboxes: n,
      inotifyMaxUserInstances: inotify,
      openFilesLimit: openFilesLimit(),
      settleSeconds: opts.settleSeconds,
      bare: { one, all, connectAllMs: bareAll.connectMs, perConnectionKb: round1((all.rssKb - one.rssKb) / (n - 1)) },
      mailroom: {
        oneRssKb: rssOne.afterGc,
        allRssKb: rssAll.afterGc,
        allTreeRssKb: rssAll.tree,
        oneRssNoGcKb: rssOne.noGc,
        allRssNoGcKb: rssAll.noGc,
        perMailboxKb: round1((rssAll.afterGc - rssOne.afterGc) / (n - 1)),
        createMailboxesMs,
        allOkMs,
      },
      latency,
    };
  } finally {
    await probe?.stop();
    await mailroom?.stop();
    await bareAll?.stop();
    await stopDovecot();
  }
}
