import type { ChildProcess } from "node:child_process";
import readline from "node:readline";
import { type Cleanup, spawnNode, stopPid } from "../lib/processes.js";

export type ChildEvent = { type: string } & Record<string, unknown>;

/**
 * A benchmark child process (tsx) that talks in JSON lines: commands on stdin, events on stdout. The
 * parent waits for events by type; a child that exits or reports `error` fails the wait.
 */
export class JsonLinesChild {
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #events: ChildEvent[] = [];
  readonly #waiters: { type: string; resolve: (e: ChildEvent) => void; reject: (err: Error) => void }[] = [];
  readonly stop: () => Promise<void>;
  #ended: Error | null = null;

  constructor(cleanup: Cleanup, name: string, script: string, args: string[]) {
    this.#child = spawnNode(script, args);
    this.pid = this.#child.pid!;
    const child = this.#child;
    this.stop = cleanup.add(`${name} ${this.pid}`, async () => {
      if (child.exitCode === null && child.stdin?.writable) child.stdin.write("exit\n");
      await stopPid(this.pid, 5_000);
    });
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      let event: ChildEvent;
      try {
        event = JSON.parse(line) as ChildEvent;
      } catch {
        return;
      }
      if (event.type === "error") return this.fail(new Error(`${name}: ${String(event["message"])}`));
      const i = this.#waiters.findIndex((w) => w.type === event.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(event);
      else this.#events.push(event);
    });
    child.once("exit", (code) => this.fail(new Error(`${name} exited with ${code}`)));
  }

  private fail(err: Error): void {
    this.#ended ??= err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  send(command: string): void {
    this.#child.stdin?.write(`${command}\n`);
  }

  /** The next event of this type (one that came before the call counts), or the child's end. */
  next<T>(type: string, timeoutMs = 120_000): Promise<T> {
    const i = this.#events.findIndex((e) => e.type === type);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0] as T);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        type,
        resolve: (e: ChildEvent) => {
          clearTimeout(timer);
          resolve(e as T);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type} event within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Sends a command and waits for the event that answers it. */
  ask<T>(command: string, type: string, timeoutMs?: number): Promise<T> {
    this.send(command);
    return this.next<T>(type, timeoutMs);
  }
}
