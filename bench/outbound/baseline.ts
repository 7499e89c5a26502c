import { fileURLToPath } from "node:url";
import { othersCpu, cpuSeconds, type Cleanup } from "../lib/processes.js";
import { round1 } from "../lib/stats.js";
import { JsonLinesChild } from "./child.js";
import { arrivalFigures, type ArrivalFigures } from "./arrivals.js";
import { SinkProcess } from "./sink.js";
import { smtpLogin } from "./setup.js";

/** Mailroom's SmtpSender pool size (src/connectors/smtp/smtp-sender.ts): the bare pool gets the same. */
export const maxConnections = 3;

export interface BareFigures {
  messages: number;
  /** from the first sendMail (the pool not yet connected) until the sink has the last message */
  ms: number;
  msgPerSec: number;
  /** until the last sendMail resolved */
  clientMs: number;
  errors: number;
  firstError: string | null;
  arrivals: ArrivalFigures;
  sessions: number;
  cpuSeconds: number;
  sinkCpuSeconds: number;
  othersCpuSeconds: number;
}

const script = fileURLToPath(new URL("./bare-sender-child.ts", import.meta.url));

/**
 * The baseline: the messages Mailroom sent (`file`, read by the child before the clock), handed at once
 * to one bare nodemailer pool in a process of its own (its connections opened before the clock),
 * delivered to a fresh sink process like Mailroom's.
 */
export async function runBare(cleanup: Cleanup, file: string, count: number): Promise<BareFigures> {
  const sink = await SinkProcess.start(cleanup, { hold: false });
  const child = new JsonLinesChild(cleanup, "bare sender", script, [
    "--port", String(sink.port), "--file", file, "--user", smtpLogin.user, "--password", smtpLogin.password, "--max-connections", String(maxConnections),
  ]);
  try {
    const ready = await child.next<{ type: string; messages: number; warm: number }>("ready", 60_000);
    if (ready.messages !== count) throw new Error(`the bare sender read ${ready.messages} of ${count} messages`);
    const others = othersCpu([child.pid, sink.pid], []);
    const cpuBefore = cpuSeconds(child.pid);
    const sinkCpuBefore = sink.cpuSeconds();
    const received = sink.expect(ready.warm + count, Math.max(120_000, count * 50));
    child.send("go");
    const done = await child.next<{ type: string; startAt: number; endAt: number; sent: number; errors: number; firstError: string | null }>("done", Math.max(120_000, count * 50));
    if (done.errors) throw new Error(`the bare sender failed ${done.errors} of ${count}: ${done.firstError}`);
    const last = await received;
    const othersCpuSeconds = others();
    const stats = await sink.stats();
    if (stats.distinctMessageIds !== ready.warm + count) {
      throw new Error(`the bare sink got ${stats.received} messages with ${stats.distinctMessageIds} distinct Message-IDs, for ${count} and ${ready.warm} to warm up`);
    }
    const ms = last.lastAt - done.startAt;
    return {
      messages: count,
      ms: Math.round(ms),
      msgPerSec: round1((count / ms) * 1000),
      clientMs: Math.round(done.endAt - done.startAt),
      errors: done.errors,
      firstError: done.firstError,
      arrivals: arrivalFigures(stats.arrivals.slice(ready.warm), done.startAt),
      sessions: stats.sessions,
      cpuSeconds: round1(cpuSeconds(child.pid) - cpuBefore),
      sinkCpuSeconds: round1(sink.cpuSeconds() - sinkCpuBefore),
      othersCpuSeconds,
    };
  } finally {
    await child.stop();
    await sink.stop();
  }
}
