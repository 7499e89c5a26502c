import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { progress } from "../lib/clock.js";
import { type Cleanup, spawnNode, stopPid } from "../lib/processes.js";

export interface ExistsEvent {
  user: string;
  count: number;
  prevCount: number;
  at: number;
}

export interface BareMemory {
  rssKb: number;
  heapUsedKb: number;
  externalKb: number;
}

const childScript = fileURLToPath(new URL("./bare-idle-child.ts", import.meta.url));

/** The parent's handle on a bare-idle-child process: N imapflow connections in IDLE, none of Mailroom's code. */
export class BareIdleProcess {
  readonly connectMs: number;
  readonly connections: number;
  readonly pid: number;
  /** every EXISTS the child saw, by user, in arrival order */
  readonly exists = new Map<string, ExistsEvent[]>();
  readonly #child: ChildProcess;
  readonly #stop: () => Promise<void>;
  #memoryWaiter: ((m: BareMemory) => void) | null = null;

  private constructor(child: ChildProcess, stop: () => Promise<void>, connected: { connectMs: number; connections: number }) {
    this.#child = child;
    this.#stop = stop;
    this.pid = child.pid!;
    this.connectMs = connected.connectMs;
    this.connections = connected.connections;
  }

  static async start(cleanup: Cleanup, opts: { port: number; users: string[]; password: string; inFlight?: number }): Promise<BareIdleProcess> {
    const usersFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-bench-bare-")), "users.json");
    fs.writeFileSync(usersFile, JSON.stringify(opts.users));
    const child = spawnNode(childScript, ["--port", String(opts.port), "--users-file", usersFile, "--password", opts.password, "--in-flight", String(opts.inFlight ?? 50)], {
      nodeArgs: ["--expose-gc"],
      openFiles: opts.users.length + 200,
    });
    const stop = cleanup.add(`bare idle child ${child.pid}`, async () => {
      if (child.exitCode === null) child.stdin?.write("exit\n");
      await stopPid(child.pid!, 5_000);
      fs.rmSync(path.dirname(usersFile), { recursive: true, force: true });
    });
    const pending: ExistsEvent[] = [];
    let self: BareIdleProcess | null = null;
    const errors: string[] = [];
    const connected = await new Promise<{ connectMs: number; connections: number }>((resolve, reject) => {
      const lines = readline.createInterface({ input: child.stdout! });
      lines.on("line", (line) => {
        const event = JSON.parse(line) as { type: string } & Record<string, unknown>;
        if (event.type === "exists") {
          const e = event as unknown as ExistsEvent;
          if (self) self.record(e);
          else pending.push(e);
        } else if (event.type === "connected") {
          resolve(event as unknown as { connectMs: number; connections: number });
        } else if (event.type === "memory") {
          const { rssKb, heapUsedKb, externalKb } = event as unknown as BareMemory;
          if (self) self.#memoryWaiter?.({ rssKb, heapUsedKb, externalKb });
        } else if (event.type === "error" || event.type === "lost") {
          const said = `${String(event.user)}: ${typeof event.message === "string" ? event.message : event.type}`;
          errors.push(said);
          if (errors.length <= 5) progress(`bare client ${said}`);
        }
      });
      child.once("exit", (code) => reject(new Error(`the bare IDLE process exited with ${code} before connecting`)));
    });
    if (connected.connections !== opts.users.length) {
      await stop();
      throw new Error(`the bare IDLE process connected ${connected.connections} of ${opts.users.length} users: ${errors.slice(0, 3).join("; ")}`);
    }
    self = new BareIdleProcess(child, stop, connected);
    for (const e of pending) self.record(e);
    return self;
  }

  private record(e: ExistsEvent): void {
    const list = this.exists.get(e.user) ?? [];
    list.push(e);
    this.exists.set(e.user, list);
  }

  /** When the user's INBOX was first reported to hold at least `count` messages, or undefined. */
  existsAt(user: string, count: number): number | undefined {
    return this.exists.get(user)?.find((e) => e.count >= count)?.at;
  }

  /** Memory after two GCs in the child. */
  memory(): Promise<BareMemory> {
    return new Promise((resolve) => {
      this.#memoryWaiter = (m) => {
        this.#memoryWaiter = null;
        resolve(m);
      };
      this.#child.stdin!.write("memory\n");
    });
  }

  stop(): Promise<void> {
    return this.#stop();
  }
}
