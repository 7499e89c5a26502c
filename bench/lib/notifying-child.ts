import type { ChildProcess } from "node:child_process";
import readline from "node:readline";
import { progress } from "./clock.js";
import { spawnNode, stopPid, type Cleanup } from "./processes.js";

/** A line a notifying child writes: its first says it is ready; then notifications read, and replies to commands. */
interface ChildLine {
  /** CLOCK_MONOTONIC ms when the notification was read, and the ids it named */
  at?: number;
  ids?: string[];
  /** the id of the command answered, with its error if it failed */
  reply?: number;
  error?: string;
  [key: string]: unknown;
}

/**
 * A bare client of a push protocol, in a process of its own: no Mailroom code, only what receiving the
 * protocol's news takes, timestamped on CLOCK_MONOTONIC (shared with the benchmark).
 */
export interface BareWatcher {
  /** Subscribes to the user's Inbox; from then on every new message's announcement is timed. */
  watch(user: string): Promise<void>;
  /** When the first announcement naming this item id was read, or undefined. */
  notifiedAt(itemId: string): number | undefined;
  stop(): Promise<void>;
}

/**
 * A bare client of a benchmark in a Node process of its own, as Mailroom is one, so that neither
 * shares an event loop with the benchmark (or with the emulator the benchmark runs). It speaks JSON
 * lines: its first line on stdout says it is ready (with whatever it has to tell, e.g. its port);
 * every later `{at, ids}` is a notification it read, with when (CLOCK_MONOTONIC, which this process
 * shares); a command written to its stdin as `{id, ...}` is answered by `{reply: id[, error]}`. Keeps,
 * per id, when the first notification naming it was read. Ends when its stdin closes.
 */
export class NotifyingChild {
  readonly #notifiedAt = new Map<string, number>();
  readonly #pending = new Map<number, { resolve: (line: ChildLine) => void; reject: (err: Error) => void }>();
  #notifications = 0;
  #nextCommand = 1;

  private constructor(
    private readonly child: ChildProcess,
    private readonly stopChild: () => Promise<void>,
  ) {}

  /** Starts the script under tsx; answers once its first line (the one it is ready with) has come. */
  static async start(cleanup: Cleanup, script: string, name: string): Promise<{ child: NotifyingChild; ready: ChildLine }> {
    const proc = spawnNode(script, []);
    const pid = proc.pid!;
    const stop = cleanup.add(`${name} ${pid}`, async () => {
      proc.stdin?.end();
      await stopPid(pid, 5_000);
    });
    const child = new NotifyingChild(proc, stop);
    const lines = readline.createInterface({ input: proc.stdout! });
    const ready = await new Promise<ChildLine>((resolve, reject) => {
      let first = true;
      proc.once("exit", (code) => {
        reject(new Error(`the ${name} exited with ${code} before it was ready`));
        for (const waiting of child.#pending.values()) waiting.reject(new Error(`the ${name} exited with ${code}`));
        child.#pending.clear();
      });
      lines.on("line", (line) => {
        const message = JSON.parse(line) as ChildLine;
        if (first) {
          first = false;
          resolve(message);
        } else child.#take(message);
      });
    });
    progress(`${name} ${pid} ready: ${JSON.stringify(ready)}`);
    return { child, ready };
  }

  #take(line: ChildLine): void {
    if (line.reply !== undefined) {
      const waiting = this.#pending.get(line.reply);
      this.#pending.delete(line.reply);
      if (line.error !== undefined) waiting?.reject(new Error(line.error));
      else waiting?.resolve(line);
      return;
    }
    if (line.at === undefined) return;
    this.#notifications++;
    for (const id of line.ids ?? []) if (!this.#notifiedAt.has(id)) this.#notifiedAt.set(id, line.at);
  }

  /** Sends a command; resolves with the child's reply, rejects with the error it names. */
  command(command: Record<string, unknown>): Promise<ChildLine> {
    const id = this.#nextCommand++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  /** This child as a bare client whose subscriptions `watch` makes (itself, or through the server it listens to). */
  asWatcher(watch: (user: string) => Promise<void>): BareWatcher {
    return { watch, notifiedAt: (id) => this.notifiedAt(id), stop: () => this.stop() };
  }

  /** When the first notification naming this id was read, or undefined. */
  notifiedAt(id: string): number | undefined {
    return this.#notifiedAt.get(id);
  }

  /** notifications read (several ids may share one) */
  get notifications(): number {
    return this.#notifications;
  }

  stop(): Promise<void> {
    return this.stopChild();
  }
}
