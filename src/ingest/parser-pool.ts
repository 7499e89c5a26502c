import { Worker, type ResourceLimits } from "node:worker_threads";
import { crashedParseResult, parseMail, type MailInput } from "./parse-mail.js";
import { requestFor, reviveMail, type ParseReply } from "./parser-protocol.js";
import type { IngestContext, ParsedMail } from "./types.js";

/**
 * Parsing is the expensive step of ingestion (see the performance notes), so it can run on worker
 * threads while the main thread keeps serving HTTP and IMAP. A message that kills its worker (a
 * parser bug, memory exhaustion, an endless loop) is tried once more on a fresh worker; if it kills
 * that one too it becomes a wrapped "unparsable" result, so one hostile message never blocks a mailbox.
 */

export interface ParserOptions {
  /** 0 parses on the calling thread */
  workers: number;
  /** a parse running longer than this is stopped and the message wrapped as unparsable */
  timeoutMs?: number;
  /** heap limits per worker, so a hostile message exhausts a worker rather than the process */
  resourceLimits?: ResourceLimits;
  /** the worker entry; by default parser-worker next to this file, with this file's extension */
  workerUrl?: URL;
}

export interface Parser {
  parse(input: MailInput, ctx: IngestContext): Promise<ParsedMail>;
  /** finishes the parses already asked for, then stops the workers */
  close(): Promise<void>;
}

interface Task {
  id: number;
  input: MailInput;
  ctx: IngestContext;
  attempts: number;
  resolve(mail: ParsedMail): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  /** in the order the worker takes them; the first is the one being parsed */
  tasks: Task[];
  /** the worker loaded its modules and said so; only then does it get work */
  ready: boolean;
  gone: boolean;
  timer: NodeJS.Timeout | null;
  timedOut: boolean;
}

const maxAttempts = 2;
const maxStartFailures = 3;
/**
 * Messages handed to a worker at once, about a batch. One at a time, a worker that finished waited for
 * the main thread to send the next, and the main thread is busy for tens of ms at a time storing a
 * batch: measured, the worker stood idle 42% of a backlog drain. The worker parses them one after the
 * other, so only the first unanswered one can be the one that killed it.
 */
const tasksPerWorker = 50;

/**
 * Under tsx and vitest the worker entry is TypeScript. On Node 20 tsx installs its loader only on the
 * main thread, even with `--import tsx` in the worker's execArgv, so a small bootstrap registers it
 * inside the worker before importing the entry. The compiled `dist/` worker is plain JavaScript.
 */
function loadableWorker(url: URL): URL {
  if (!url.pathname.endsWith(".ts")) return url;
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(url.href)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

function defaultWorkerUrl(): URL {
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./parser-worker${extension}`, import.meta.url);
}

export function createParser(options: ParserOptions): Parser {
  if (options.workers <= 0) return { parse: parseMail, close: async () => {} };

  const entry = loadableWorker(options.workerUrl ?? defaultWorkerUrl());
  const timeoutMs = options.timeoutMs ?? 60_000;
  const queue: Task[] = [];
  const slots = new Set<Slot>();
  let nextId = 1;
  let inFlight = 0;
  let closing = false;
  let startFailures = 0;
  let broken: Error | null = null;
  let drained: (() => void) | null = null;

  const finish = (task: Task, settle: () => void) => {
    inFlight--;
    settle();
    if (inFlight === 0 && drained) drained();
  };

  /** The first task of a slot is the one its worker parses: it is charged the attempt, and timed. */
  const startFirst = (slot: Slot) => {
    const task = slot.tasks[0];
    if (!task) return;
    task.attempts++;
    slot.timer = setTimeout(() => {
      slot.timedOut = true;
      void slot.worker.terminate();
    }, timeoutMs);
  };

  const dispatch = (slot: Slot, task: Task) => {
    slot.tasks.push(task);
    if (slot.tasks.length === 1) startFirst(slot);
    const { request, transfer } = requestFor(task.id, task.input, task.ctx);
    slot.worker.postMessage(request, transfer);
  };

  const pump = () => {
    // idle workers first, then one more for each, and so on
    for (let held = 0; held < tasksPerWorker; held++) {
      for (const slot of slots) {
        if (queue.length === 0) return;
        if (slot.ready && !slot.gone && slot.tasks.length === held) dispatch(slot, queue.shift()!);
      }
    }
  };

  const lost = (slot: Slot, reason: string) => {
    if (slot.gone) return;
    slot.gone = true;
    if (slot.timer) clearTimeout(slot.timer);
    slots.delete(slot);
    const [task, ...waiting] = slot.tasks;
    slot.tasks = [];
    // the worker had not started these: they go back as they were, uncharged
    queue.unshift(...waiting);
    if (!slot.ready && ++startFailures >= maxStartFailures) {
      // workers that never start are a deployment problem, not the messages' fault: say so and stop starting them
      broken = new Error(`parse workers cannot start: ${reason}`);
      for (const queued of queue.splice(0)) finish(queued, () => queued.reject(broken!));
      return;
    }
    if (task) {
      if (slot.timedOut || task.attempts >= maxAttempts) {
        const why = slot.timedOut ? `parsing it took longer than ${timeoutMs / 1000} s` : `it stopped the parser (${reason})`;
        finish(task, () => task.resolve(crashedParseResult(task.input, why)));
      } else {
        queue.unshift(task);
      }
    }
    if (!closing || queue.length > 0) spawn();
    // a message to try again goes to an idle worker now rather than waiting for the replacement
    pump();
  };

  const spawn = () => {
    const worker = new Worker(entry, options.resourceLimits ? { resourceLimits: options.resourceLimits } : {});
    const slot: Slot = { worker, tasks: [], ready: false, gone: false, timer: null, timedOut: false };
    slots.add(slot);
    worker.on("message", (reply: ParseReply) => {
      if (reply.type === "ready") {
        slot.ready = true;
        startFailures = 0;
      } else {
        const task = slot.tasks[0];
        if (!task || task.id !== reply.id) return;
        if (slot.timer) clearTimeout(slot.timer);
        slot.tasks.shift();
        startFirst(slot);
        finish(task, () => task.resolve(reviveMail(reply.mail)));
      }
      pump();
    });
    worker.on("error", (error) => lost(slot, error.message));
    worker.on("exit", (code) => lost(slot, `exit code ${code}`));
  };

  for (let i = 0; i < options.workers; i++) spawn();

  return {
    parse(input, ctx) {
      if (closing) return Promise.reject(new Error("the parser is closed"));
      if (broken) return Promise.reject(broken);
      return new Promise<ParsedMail>((resolve, reject) => {
        inFlight++;
        queue.push({ id: nextId++, input, ctx, attempts: 0, resolve, reject });
        pump();
      });
    },
    async close() {
      closing = true;
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      const workers = [...slots].map((slot) => {
        slot.gone = true;
        return slot.worker.terminate();
      });
      slots.clear();
      await Promise.all(workers);
    },
  };
}
