/**
 * The bare side of the latency and memory figures: a Node process with nothing of Mailroom's that
 * holds one imapflow connection in IDLE per user and reports, as JSON lines on stdout, when it is
 * connected, every EXISTS with its CLOCK_MONOTONIC time, and its memory when asked on stdin
 * ("memory": GC, then VmRSS from /proc/self/status). Run with --expose-gc; see bare-idle.ts.
 */
import fs from "node:fs";
import readline from "node:readline";
import { parseArgs } from "node:util";
import type { ImapFlow } from "imapflow";
import { bareClient, connectAll } from "../lib/bare-imap.js";
import { nowMs, sleep } from "../lib/clock.js";
import { rssKb } from "../lib/processes.js";

const { values } = parseArgs({
  options: { port: { type: "string" }, "users-file": { type: "string" }, password: { type: "string" }, "in-flight": { type: "string" } },
});
const port = Number(values.port);
const users = JSON.parse(fs.readFileSync(values["users-file"]!, "utf8")) as string[];
const password = values.password!;
const inFlight = Number(values["in-flight"] ?? 50);
const clients: ImapFlow[] = [];
let failed = 0;
let closing = false;

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

/** Stays in IDLE: imapflow's idle() returns when IDLE ends, so it is entered again. */
async function idleForever(client: ImapFlow, user: string): Promise<void> {
  while (!closing && client.usable) {
    const started = Date.now();
    await client.idle().catch(() => false);
    // an IDLE the server refuses right away would spin
    if (Date.now() - started < 1_000) await sleep(1_000);
  }
  if (!closing) emit({ type: "lost", user });
}

async function connect(i: number): Promise<void> {
  const user = users[i]!;
  const client = bareClient(port, user, password);
  client.on("exists", (event: { count: number; prevCount: number }) => emit({ type: "exists", user, count: event.count, prevCount: event.prevCount, at: nowMs() }));
  try {
    await client.connect();
    await client.mailboxOpen("INBOX");
    clients.push(client);
    void idleForever(client, user);
  } catch (err) {
    failed++;
    emit({ type: "error", user, message: err instanceof Error ? err.message : String(err) });
  }
}

async function memory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(1_000);
  gc?.();
  const mem = process.memoryUsage();
  emit({ type: "memory", rssKb: rssKb("self"), heapUsedKb: Math.round(mem.heapUsed / 1024), externalKb: Math.round(mem.external / 1024), gc: gc !== undefined });
}

const connectMs = await connectAll(users.length, inFlight, connect);
emit({ type: "connected", connections: clients.length, failed, connectMs: Math.round(connectMs), at: nowMs() });

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line === "memory") void memory();
  if (line === "exit") {
    closing = true;
    for (const client of clients) client.close();
    process.exit(0);
  }
});
// the parent went away without saying so
lines.on("close", () => process.exit(0));
