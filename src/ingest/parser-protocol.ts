import type { MailInput } from "./parse-mail.js";
import type { IngestContext, ParsedMail } from "./types.js";
import { asBuffer } from "../shared/bytes.js";

/** What crosses between the parser pool and a parse worker process (structured clone over the IPC channel). */

export interface ParseRequest {
  id: number;
  /** new mail: parsed next, ahead of the backlog the worker holds, and answered at once */
  urgent: boolean;
  raw: Uint8Array;
  size: number;
  truncated: boolean;
  maxSizeBytes: number;
  ownAddresses: string[];
}

/** Messages to parse, in the order the worker takes them. */
export interface ParseCommand {
  type: "parse";
  requests: ParseRequest[];
}

export type ParseReply =
  | { type: "ready" }
  | { type: "parsed"; results: { id: number; mail: ParsedMail }[] }
  | { type: "failed"; reason: string };

export type ParseFunction = (input: MailInput, ctx: IngestContext) => Promise<ParsedMail>;

export function requestFor(id: number, input: MailInput, ctx: IngestContext, urgent: boolean): ParseRequest {
  return { id, urgent, raw: input.raw, size: input.size, truncated: input.truncated, maxSizeBytes: ctx.maxSizeBytes, ownAddresses: [...ctx.ownAddresses] };
}

/** Structured cloning turns Buffers into plain Uint8Arrays; the rest of Mailroom expects Buffers. */
export function reviveMail(mail: ParsedMail): ParsedMail {
  const attachments = mail.attachments.map((a) => ({ ...a, content: asBuffer(a.content) }));
  return { ...mail, attachments };
}

/** Worker side: answers every ParseRequest from the parent process with a ParseReply. */
export function serveParseRequests(parse: ParseFunction): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error("the parse worker must run as a child process with an IPC channel");
  // One at a time, new mail first, then in the order they came. Answers go back together when the
  // worker has nothing left to do, or every few, so that a batch costs one message each way; new mail's
  // at once. parse never rejects; if it ever did, the rejection is unhandled, the
  // worker dies, and the pool finds the message by parsing the unanswered ones alone.
  const waiting: ParseRequest[] = [];
  const done: { id: number; mail: ParsedMail }[] = [];
  let running = false;
  const flush = () => {
    if (done.length) send({ type: "parsed", results: done.splice(0) } satisfies ParseReply);
  };
  const work = async () => {
    running = true;
    for (let request = waiting.shift(); request; request = waiting.shift()) {
      const raw = asBuffer(request.raw);
      const mail = await parse({ raw, size: request.size, truncated: request.truncated }, { maxSizeBytes: request.maxSizeBytes, ownAddresses: new Set(request.ownAddresses) });
      done.push({ id: request.id, mail });
      if (request.urgent || waiting.length === 0 || done.length >= 16) flush();
    }
    running = false;
  };
  process.on("message", (command: ParseCommand) => {
    const urgent = command.requests.filter((r) => r.urgent);
    // ahead of the backlog, behind new mail that came before it
    const firstBacklog = waiting.findIndex((r) => !r.urgent);
    waiting.splice(firstBacklog === -1 ? waiting.length : firstBacklog, 0, ...urgent);
    waiting.push(...command.requests.filter((r) => !r.urgent));
    if (!running) void work();
  });
  // a bug that escapes parse: say what it was before dying, so the pool can tell whoever reads the wrapped message
  const die = (err: unknown) => {
    const reason = err instanceof Error ? err.message : String(err);
    send({ type: "failed", reason } satisfies ParseReply, () => process.exit(70));
  };
  process.on("uncaughtException", die);
  process.on("unhandledRejection", die);
  // the server went away (even by kill -9): nothing is left to parse for
  process.on("disconnect", () => process.exit(0));
  // tells the pool this worker loaded its modules and can take work
  send({ type: "ready" } satisfies ParseReply);
}
