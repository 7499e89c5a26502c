/**
 * The bare baseline's sender: a Node process with nothing of Mailroom's that reads the messages
 * Mailroom composed (JSON lines of {from, to, raw as base64}, read before any clock) and, on "go",
 * hands every one to one nodemailer pooled SMTP transport at once, configured as Mailroom's
 * SmtpSender configures its pool (maxConnections 3, the same timeouts, forced login, no TLS), and
 * waits for all. Reports "ready" (after a warm-up, see warmUp), then "done" with CLOCK_MONOTONIC start
 * and end times.
 */
import fs from "node:fs";
import readline from "node:readline";
import { parseArgs } from "node:util";
import nodemailer from "nodemailer";
import { nowMs } from "../lib/clock.js";

const { values } = parseArgs({
  options: { port: { type: "string" }, file: { type: "string" }, user: { type: "string" }, password: { type: "string" }, "max-connections": { type: "string" } },
});
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

interface Line {
  from: string;
  to: string[];
  raw: string;
}
const messages = fs
  .readFileSync(values.file!, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => {
    const m = JSON.parse(line) as Line;
    return { envelope: { from: m.from, to: m.to }, raw: Buffer.from(m.raw, "base64") };
  });

const pool = nodemailer.createTransport({
  pool: true,
  host: "127.0.0.1",
  port: Number(values.port),
  secure: false,
  ignoreTLS: true,
  maxConnections: Number(values["max-connections"] ?? 3),
  auth: { user: values.user!, pass: values.password! },
  forceAuth: true,
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 60_000,
  disableFileAccess: true,
  disableUrlAccess: true,
  logger: false,
});
pool.on("error", () => undefined);

/**
 * One small message per connection, before the clock: the pool's connections are open and logged in
 * when it starts, as Mailroom's are when the sink releases them, and the code paths are warm.
 */
async function warmUp(): Promise<number> {
  const n = Number(values["max-connections"] ?? 3);
  await Promise.all(
    Array.from({ length: n }, (_x, i) =>
      pool.sendMail({
        envelope: { from: "warm-up@bench.test", to: ["warm-up@bench.test"] },
        raw: `Message-ID: <warm-up-${i}@bench.test>\r\nFrom: warm-up@bench.test\r\nTo: warm-up@bench.test\r\nSubject: warm-up\r\n\r\nwarm-up\r\n`,
      }),
    ),
  );
  return n;
}

async function sendAll(): Promise<void> {
  const startAt = nowMs();
  let errors = 0;
  let firstError: string | null = null;
  await Promise.all(
    messages.map((m) =>
      pool.sendMail(m).catch((err: unknown) => {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }),
    ),
  );
  const endAt = nowMs();
  pool.close();
  emit({ type: "done", startAt, endAt, sent: messages.length - errors, errors, firstError });
}

const warm = await warmUp();
emit({ type: "ready", messages: messages.length, warm });
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line === "go") void sendAll();
  if (line === "exit") process.exit(0);
});
lines.on("close", () => process.exit(0));
