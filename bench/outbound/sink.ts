import { fileURLToPath } from "node:url";
import type { Cleanup } from "../lib/processes.js";
import { cpuSeconds } from "../lib/processes.js";
import { JsonLinesChild } from "./child.js";

export interface SinkStats {
  received: number;
  bytes: number;
  /** SMTP sessions opened, and the most open at once */
  sessions: number;
  maxOpen: number;
  /** distinct Message-IDs among the messages received: fewer than `received` means duplicates */
  distinctMessageIds: number;
  /** CLOCK_MONOTONIC ms of each message's end of DATA, in order */
  arrivals: number[];
}

const script = fileURLToPath(new URL("./sink-child.ts", import.meta.url));

/** The parent's handle on a sink-child process (an accept-everything smtp-server). */
export class SinkProcess {
  private constructor(
    private readonly child: JsonLinesChild,
    readonly port: number,
  ) {}

  static async start(cleanup: Cleanup, opts: { hold: boolean }): Promise<SinkProcess> {
    const child = new JsonLinesChild(cleanup, "smtp sink", script, opts.hold ? ["--hold"] : []);
    const listening = await child.next<{ type: string; port: number }>("listening", 30_000);
    return new SinkProcess(child, listening.port);
  }

  get pid(): number {
    return this.child.pid;
  }

  cpuSeconds(): number {
    return cpuSeconds(this.child.pid);
  }

  /** How many MAIL FROM wait for the release, over how many sessions, and messages already in (0 while holding). */
  held(): Promise<{ held: number; sessions: number; received: number }> {
    return this.child.ask("held", "held");
  }

  /** Answers the MAIL FROM held so far and stops holding; `at` is the CLOCK_MONOTONIC time of that. */
  release(): Promise<{ at: number; held: number }> {
    return this.child.ask("release", "released");
  }

  /** Resolves when `count` messages are in, with the arrival time of the last. */
  expect(count: number, timeoutMs: number): Promise<{ received: number; lastAt: number }> {
    return this.child.ask(`expect ${count}`, "done", timeoutMs);
  }

  stats(): Promise<SinkStats> {
    return this.child.ask("stats", "stats");
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}
