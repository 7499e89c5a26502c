/**
 * Memory per IDLE connection: N ImapSource connections waiting in waitForChange against N bare
 * imapflow clients in IDLE, each in its own Node process, read after the process settled and a GC.
 * Run with `npm run bench:imap-memory` (root: it raises fs.inotify.max_user_instances, which
 * Dovecot needs for more than ~128 IDLE sessions). BENCH_CONNECTIONS sets N (default 1000).
 */
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ImapFlow } from "imapflow";
import { ImapSource } from "../src/connectors/imap/imap-source.js";
import { startDovecot } from "../test/support/dovecot.js";
import { mailboxSettings } from "../test/support/mail-fixtures.js";
import { MemorySyncStore, syncOnce } from "../test/support/memory-sync-store.js";
import { bareClient, connectAll } from "./lib/bare-imap.js";

const n = Number(process.env.BENCH_CONNECTIONS ?? 1000);
const settleMs = Number(process.env.BENCH_SETTLE_MS ?? 20_000);
const user = (i: number) => `mem${i}@acme.test`;

interface Sample {
  kind: string;
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  connectMs: number;
}

async function sample(kind: string, connections: number, connectMs: number): Promise<Sample> {
  await new Promise((r) => setTimeout(r, settleMs));
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setTimeout(r, 1_000));
  gc?.();
  const mem = process.memoryUsage();
  return { kind, connections, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, connectMs };
}

async function child(kind: string, port: number): Promise<void> {
  const dovecot = { host: "127.0.0.1" as const, imapPort: port } as Parameters<typeof mailboxSettings>[0];
  let result: Sample;
  if (kind === "none") {
    result = await sample(kind, 0, 0);
  } else if (kind === "bare") {
    const clients: ImapFlow[] = [];
    const ms = await connectAll(n, 50, async (i) => {
      const c = bareClient(port, user(i), "pw");
      await c.connect();
      await c.mailboxOpen("INBOX");
      void c.idle();
      clients.push(c);
    });
    result = await sample(kind, clients.length, Math.round(ms));
  } else {
    const sources: ImapSource[] = [];
    const ms = await connectAll(n, 50, async (i) => {
      const s = new ImapSource(mailboxSettings(dovecot, user(i), "pw"));
      await syncOnce(s, new MemorySyncStore());
      s.waitForChange(3_600_000, new AbortController().signal).catch(() => undefined);
      sources.push(s);
    });
    result = await sample(kind, sources.length, Math.round(ms));
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

function runChild(kind: string, port: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), `--child=${kind}`, String(port)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as Sample) : reject(new Error(`${kind} child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  execFileSync("sysctl", ["-w", "fs.inotify.max_user_instances=4096"], { stdio: "ignore" });
  const dovecot = await startDovecot({ extra: { clientLimit: n + 200, imapProcessLimit: n + 200 } });
  try {
    for (let i = 0; i < n; i++) dovecot.addUser(user(i), "pw");
    const none = await runChild("none", dovecot.imapPort);
    const runs: Sample[] = [];
    for (const kind of ["bare", "source", "bare", "source"]) runs.push(await runChild(kind, dovecot.imapPort));
    const perConnection = (s: Sample) => ({
      kind: s.kind,
      connections: s.connections,
      connectMs: s.connectMs,
      rssKbPerConnection: Math.round((s.rssBytes - none.rssBytes) / s.connections / 1024),
      heapKbPerConnection: Math.round((s.heapUsedBytes - none.heapUsedBytes) / s.connections / 1024),
    });
    process.stdout.write(JSON.stringify({ baseline: none, runs: runs.map(perConnection) }, null, 2) + "\n");
  } finally {
    await dovecot.stop();
  }
}

const childArg = process.argv.find((a) => a.startsWith("--child="));
if (childArg) await child(childArg.slice("--child=".length), Number(process.argv.at(-1)));
else await main();
