import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { crashedParseResult, parseMail, parsePlainInline, type MailInput } from "./parse-mail.js";
import { requestFor, reviveMail, type ParseCommand, type ParseReply } from "./parser-protocol.js";
import type { IngestContext, ParsedMail } from "./types.js";

/**
 * Parsing is the expensive step of ingestion (see the performance notes), so it runs in worker
 * processes while the main process keeps serving HTTP and IMAP. A message that kills its worker (a
 * parser bug, memory exhaustion, an endless loop) is tried once more on a fresh worker; if it kills
 * that one too it becomes a wrapped "unparsable" result, so one hostile message never blocks a mailbox.
 *
 * Processes, not worker threads: a worker thread's heap limit does not protect the process. When an
 * allocation larger than the little extra room Node gives a thread at its limit comes (a long string
 * of a hostile message), V8 aborts the whole process, and every mailbox with it (seen in the test of
 * the memory limit). A worker process that runs out of memory dies alone.
 *
 * Except the commonest message, one plain-text part: `parsePlainInline` reads it on the calling thread
 * in a small fraction of a millisecond with code linear in its bounded size, while the trip to a
 * worker and back (copying, a pipe, a wake-up on both sides) cost more than the parse did
 * (bench:ingest, small-text corpus: single runs of 0.54–0.64× of the bare pipeline with every message
 * sent to a worker).
 */

export interface ParserOptions {
  /** the most worker processes: one starts at once, more while messages wait for one; 0 parses on the calling thread */
  workers: number;
  /** a parse running longer than this is stopped and the message wrapped as unparsable */
  timeoutMs?: number;
  /** heap limit of each worker process in MB, so a hostile message exhausts a worker rather than the server */
  memoryLimitMb?: number;
  /** the worker entry; by default parser-worker next to this file, with this file's extension */
  workerUrl?: URL;
}

export interface Parser {
  /** `urgent`: new mail, parsed before the backlog messages that wait */
  parse(input: MailInput, ctx: IngestContext, options?: { urgent?: boolean }): Promise<ParsedMail>;
  /** finishes the parses already asked for, then stops the workers */
  close(): Promise<void>;
  /** worker processes running or starting now */
  workerCount(): number;
}

interface Task {
  id: number;
  input: MailInput;
  ctx: IngestContext;
  urgent: boolean;
  /** it was with others in a worker that died: it is parsed alone until it proves innocent or guilty */
  suspect: boolean;
  /** workers it killed while parsed alone */
  attempts: number;
  resolve(mail: ParsedMail): void;
  reject(error: Error): void;
}

interface Slot {
  worker: ChildProcess;
  /** what the worker holds (it takes new mail ahead of the rest) */
  tasks: Task[];
  /** the slot parses one suspect alone: if its worker dies, the suspect did it */
  isolating: boolean;
  /** the worker loaded its modules and said so; only then does it get work */
  ready: boolean;
  gone: boolean;
  timer: NodeJS.Timeout | null;
  timedOut: boolean;
  /** what the worker said killed it, when it could say */
  failure: string | null;
}

const maxAttempts = 2;
const maxStartFailures = 3;
/**
 * What a worker holds at once, handed over in one message on its channel and answered a few at a time:
 * one message each way per message cost a write to the pipe and a wake-up on both sides, and a worker
 * holding little stood idle while the server was busy elsewhere (bench:ingest: 8 held, 0.53× of the
 * bare pipeline on small mail; 32, 0.58×). Since plain text is read on the server's thread, the first
 * worker taking up to 64 leaves the second to bulkier mail rather than to competing with the server's
 * thread for a core (small-text: 0.77–0.78× against 0.69–0.71× with 32, runs side by side). The bytes
 * bound what new mail may find ahead of it: tens of milliseconds of parsing.
 */
const tasksPerWorker = 64;
/** How long the backlog's plain-text messages are read on the server's thread before it sees to other work. */
const inlineSliceMs = 2;
const bytesPerWorker = 2 * 1024 * 1024;

/** Under tsx and vitest the worker entry is TypeScript and needs tsx's loader; the compiled `dist/` one is JavaScript. */
function loaderArgs(url: URL): string[] {
  return url.pathname.endsWith(".ts") ? ["--import", "tsx"] : [];
}

function defaultWorkerUrl(): URL {
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./parser-worker${extension}`, import.meta.url);
}

export function createParser(options: ParserOptions): Parser {
  if (options.workers <= 0) return { parse: parseMail, close: async () => {}, workerCount: () => 0 };

  const entryUrl = options.workerUrl ?? defaultWorkerUrl();
  const execArgv = [
    ...loaderArgs(entryUrl),
    ...(options.memoryLimitMb ? [`--max-old-space-size=${options.memoryLimitMb}`] : []),
    // parsing allocates many short-lived strings and buffers: a larger young generation collects them in fewer pauses
    "--max-semi-space-size=64",
    // V8's helper threads for the collector cost a worker about a third of its CPU (bench:ingest, /proc per
    // thread) and take it from the server's own thread on a small machine; one thread collects for less
    "--single-threaded-gc",
    // a server started with --cpu-prof profiles its parse workers too
    ...process.execArgv.filter((arg) => arg.startsWith("--cpu-prof")),
  ];
  const timeoutMs = options.timeoutMs ?? 60_000;
  // new mail goes before the backlog; each in arrival order
  const urgentQueue: Task[] = [];
  const queue: Task[] = [];
  const nextTask = () => urgentQueue.shift() ?? queue.shift();
  const queued = () => urgentQueue.length + queue.length;
  const slots = new Set<Slot>();
  let nextId = 1;
  let inFlight = 0;
  let closing = false;
  let startFailures = 0;
  let broken: Error | null = null;
  let drained: (() => void) | null = null;

  /** A plain-text message is read here; anything else goes to a worker. */
  const route = (task: Task) => {
    const inline = parsePlainInline(task.input, task.ctx);
    if (inline) return finish(() => task.resolve(inline));
    if (broken) return finish(() => task.reject(broken!));
    (task.urgent ? urgentQueue : queue).push(task);
    pump();
  };
  // New mail is routed at once; the backlog a slice of time at a time, so that a batch's plain-text
  // messages read in one go (milliseconds) do not hold up what the server's thread has to do for new
  // mail of other mailboxes (its IMAP answers, its commit)
  const toRead: Task[] = [];
  let reading = false;
  const readSlice = () => {
    const until = performance.now() + inlineSliceMs;
    while (toRead.length && performance.now() < until) route(toRead.shift()!);
    if (toRead.length) setImmediate(readSlice);
    else reading = false;
  };

  const finish = (settle: () => void) => {
    inFlight--;
    settle();
    if (inFlight === 0 && drained) drained();
  };

  /** A worker that answers nothing for timeoutMs while it holds work is stuck on a message. */
  const watch = (slot: Slot) => {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    if (slot.tasks.length === 0) return;
    slot.timer = setTimeout(() => {
      slot.timedOut = true;
      slot.worker.kill("SIGKILL");
    }, timeoutMs);
  };

  const send = (slot: Slot, tasks: Task[]) => {
    slot.tasks.push(...tasks);
    watch(slot);
    // a worker that died meanwhile answers through "exit"; its tasks go back to the queue then
    slot.worker.send({ type: "parse", requests: tasks.map((t) => requestFor(t.id, t.input, t.ctx, t.urgent)) } satisfies ParseCommand, (err) => {
      if (err) lost(slot, err.message);
    });
  };

  const nextFor = (slot: Slot): Task[] => {
    const take: Task[] = [];
    let bytes = slot.tasks.reduce((sum, t) => sum + t.input.raw.length, 0);
    while (slot.tasks.length + take.length < tasksPerWorker) {
      const candidate = urgentQueue[0] ?? queue[0];
      if (!candidate) break;
      if (slot.tasks.length + take.length > 0 && bytes + candidate.input.raw.length > bytesPerWorker) break;
      bytes += candidate.input.raw.length;
      // a suspect goes to a worker of its own, alone
      if (candidate.suspect && (slot.tasks.length > 0 || take.length > 0)) break;
      take.push(nextTask()!);
      if (candidate.suspect) {
        slot.isolating = true;
        break;
      }
    }
    return take;
  };

  const pump = () => {
    // new mail does not wait for room: it goes to the least busy worker now, which parses it next
    while (urgentQueue[0] && !urgentQueue[0].suspect) {
      const open = [...slots].filter((s) => s.ready && !s.gone && !s.isolating);
      if (open.length === 0) break;
      const slot = open.reduce((a, b) => (b.tasks.length < a.tasks.length ? b : a));
      send(slot, [urgentQueue.shift()!]);
    }
    for (const slot of slots) {
      if (!slot.ready || slot.gone || slot.isolating) continue;
      const tasks = nextFor(slot);
      if (tasks.length) send(slot, tasks);
    }
    grow();
  };

  /**
   * Workers start as the work asks for them: one at first, another (up to `workers`) when messages wait
   * that no worker can take. A server with only quiet mailboxes keeps one (~45 MB a worker: with 1,000
   * mailboxes that was the difference between 303 and 300 MB).
   */
  const grow = () => {
    if (closing || broken || slots.size >= options.workers || queued() === 0) return;
    // a worker still starting takes the waiting messages when it is ready
    if ([...slots].every((s) => s.ready && (s.isolating || s.tasks.length > 0))) spawn();
  };

  const lost = (slot: Slot, reason: string) => {
    if (slot.gone) return;
    slot.gone = true;
    if (slot.timer) clearTimeout(slot.timer);
    slots.delete(slot);
    const unanswered = slot.tasks;
    slot.tasks = [];
    if (!slot.ready && ++startFailures >= maxStartFailures) {
      // workers that never start are a deployment problem, not the messages' fault: say so and stop starting them
      broken = new Error(`parse workers cannot start: ${reason}`);
      for (const queued of [...unanswered, ...urgentQueue.splice(0), ...queue.splice(0)]) finish(() => queued.reject(broken!));
      return;
    }
    const [alone] = unanswered;
    if (slot.isolating && alone && unanswered.length === 1) {
      // it was alone: it did it
      alone.attempts++;
      if (slot.timedOut || alone.attempts >= maxAttempts) {
        const why = slot.timedOut ? `parsing it took longer than ${timeoutMs / 1000} s` : `it stopped the parser (${reason})`;
        finish(() => alone.resolve(crashedParseResult(alone.input, why)));
      } else {
        (alone.urgent ? urgentQueue : queue).unshift(alone);
      }
    } else {
      // one of these did it, or none (a worker that did not start): each is parsed alone until that is known
      for (const t of [...unanswered].reverse()) {
        if (slot.ready) t.suspect = true;
        (t.urgent ? urgentQueue : queue).unshift(t);
      }
    }
    // one worker is always there; more when messages wait for one (pump grows the pool)
    if (slots.size === 0 && (!closing || queued() > 0)) spawn();
    // a message to try again goes to an idle worker now rather than waiting for the replacement
    pump();
  };

  const spawn = () => {
    const worker = fork(fileURLToPath(entryUrl), [], { execArgv, serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const slot: Slot = { worker, tasks: [], isolating: false, ready: false, gone: false, timer: null, timedOut: false, failure: null };
    slots.add(slot);
    worker.on("message", (reply: ParseReply) => {
      if (reply.type === "ready") {
        slot.ready = true;
        startFailures = 0;
      } else if (reply.type === "failed") {
        slot.failure = reply.reason;
      } else {
        for (const result of reply.results) {
          // new mail is answered ahead of the backlog it was sent after
          const at = slot.tasks.findIndex((t) => t.id === result.id);
          if (at === -1) continue;
          const [task] = slot.tasks.splice(at, 1);
          finish(() => task!.resolve(reviveMail(result.mail)));
        }
        // a suspect that came back was innocent; the slot takes batches again
        if (slot.tasks.length === 0) slot.isolating = false;
        watch(slot);
      }
      pump();
    });
    worker.on("error", (error) => lost(slot, error.message));
    worker.on("exit", (code, signal) => lost(slot, slot.failure ?? (signal ? `ended by ${signal}` : `exit code ${code}`)));
  };

  spawn();

  return {
    workerCount: () => slots.size,
    parse(input, ctx, parseOptions) {
      if (closing) return Promise.reject(new Error("the parser is closed"));
      return new Promise<ParsedMail>((resolve, reject) => {
        inFlight++;
        const urgent = parseOptions?.urgent ?? false;
        const task: Task = { id: nextId++, input, ctx, urgent, suspect: false, attempts: 0, resolve, reject };
        if (urgent) return route(task);
        toRead.push(task);
        if (!reading) {
          reading = true;
          setImmediate(readSlice);
        }
      });
    },
    async close() {
      closing = true;
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      const workers = [...slots].map((slot) => {
        slot.gone = true;
        const { worker } = slot;
        if (worker.exitCode !== null || worker.signalCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          // a worker leaves when its channel closes (and writes a --cpu-prof profile then); one that does not is killed
          const kill = setTimeout(() => worker.kill("SIGKILL"), 2_000);
          worker.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          if (worker.connected) worker.disconnect();
          else worker.kill("SIGKILL");
        });
      });
      slots.clear();
      await Promise.all(workers);
    },
  };
}
