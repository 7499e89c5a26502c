import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { progress } from "../lib/clock.js";
import { spawnNode, stopPid, type Cleanup } from "../lib/processes.js";

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "bare-receiver-child.ts");

export const bareReceiverMethod =
  "a node:http server in a Node process of its own (bench/graph/bare-receiver-child.ts), subscribed to the user's Inbox like Mailroom; " +
  "a notification counts when its body has been read (CLOCK_MONOTONIC, shared with the benchmark)";

/** The bare receiver process: the Graph message ids it was notified of, with when. */
export class BareReceiver {
  readonly #notifiedAt = new Map<string, number>();
  #posts = 0;

  private constructor(
    readonly url: string,
    private readonly stopChild: () => Promise<void>,
  ) {}

  static async start(cleanup: Cleanup): Promise<BareReceiver> {
    const child = spawnNode(childScript, []);
    const pid = child.pid!;
    // the lines that come after the port are the receiver's, once it exists
    const made: { receiver?: BareReceiver } = {};
    const stop = cleanup.add(`bare receiver ${pid}`, async () => {
      child.stdin?.end();
      await stopPid(pid, 5_000);
    });
    const lines = readline.createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`the bare receiver exited with ${code} before listening`)));
      lines.on("line", (line) => {
        const message = JSON.parse(line) as { port?: number; at?: number; ids?: string[] };
        if (message.port !== undefined) resolve(message.port);
        else if (made.receiver && message.at !== undefined) made.receiver.record(message.at, message.ids ?? []);
      });
    });
    const receiver = new BareReceiver(`http://127.0.0.1:${port}/notify`, stop);
    made.receiver = receiver;
    progress(`bare receiver ${pid} listening at ${receiver.url}`);
    return receiver;
  }

  private record(at: number, ids: string[]): void {
    this.#posts++;
    for (const id of ids) if (!this.#notifiedAt.has(id)) this.#notifiedAt.set(id, at);
  }

  /** When the first notification naming this Graph message id was read, or undefined. */
  notifiedAt(graphId: string): number | undefined {
    return this.#notifiedAt.get(graphId);
  }

  /** notification POSTs received (several notifications may share one) */
  get posts(): number {
    return this.#posts;
  }

  stop(): Promise<void> {
    return this.stopChild();
  }
}
