import type { MailInput } from "./parse-mail.js";
import type { IngestContext, ParsedMail } from "./types.js";

/** What crosses between the parser pool and a parse worker process (structured clone over the IPC channel). */

export interface ParseRequest {
  id: number;
  raw: Uint8Array;
  size: number;
  truncated: boolean;
  maxSizeBytes: number;
  ownAddresses: string[];
}

export type ParseReply = { type: "ready" } | { type: "parsed"; id: number; mail: ParsedMail } | { type: "failed"; reason: string };

export type ParseFunction = (input: MailInput, ctx: IngestContext) => Promise<ParsedMail>;

export function requestFor(id: number, input: MailInput, ctx: IngestContext): ParseRequest {
  return { id, raw: input.raw, size: input.size, truncated: input.truncated, maxSizeBytes: ctx.maxSizeBytes, ownAddresses: [...ctx.ownAddresses] };
}

/** Structured cloning turns Buffers into plain Uint8Arrays; the rest of Mailroom expects Buffers. */
export function reviveMail(mail: ParsedMail): ParsedMail {
  const attachments = mail.attachments.map((a) => {
    const bytes = a.content as Uint8Array;
    return { ...a, content: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  });
  return { ...mail, attachments };
}

/** Worker side: answers every ParseRequest from the parent process with a ParseReply. */
export function serveParseRequests(parse: ParseFunction): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error("the parse worker must run as a child process with an IPC channel");
  const handle = async (request: ParseRequest) => {
    const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
    const mail = await parse({ raw, size: request.size, truncated: request.truncated }, { maxSizeBytes: request.maxSizeBytes, ownAddresses: new Set(request.ownAddresses) });
    send({ type: "parsed", id: request.id, mail } satisfies ParseReply);
  };
  // One at a time, in order: the pool may send the next message early, and counts on the first
  // unanswered one being the one in progress. parse never rejects; if it ever did, the rejection is
  // unhandled, the worker dies, and the pool answers for the message.
  let previous: Promise<void> = Promise.resolve();
  process.on("message", (request: ParseRequest) => {
    previous = previous.then(() => handle(request));
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
