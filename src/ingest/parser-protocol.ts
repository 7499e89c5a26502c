import { parentPort } from "node:worker_threads";
import type { MailInput } from "./parse-mail.js";
import type { IngestContext, ParsedMail } from "./types.js";

/** What crosses between the parser pool and a parse worker. */

export interface ParseRequest {
  id: number;
  /** the message bytes in an ArrayBuffer of their own, transferred rather than cloned */
  raw: ArrayBuffer;
  size: number;
  truncated: boolean;
  maxSizeBytes: number;
  ownAddresses: string[];
}

export type ParseReply = { type: "ready" } | { type: "parsed"; id: number; mail: ParsedMail };

export type ParseFunction = (input: MailInput, ctx: IngestContext) => Promise<ParsedMail>;

/** The bytes of a view in an ArrayBuffer that holds exactly them, copying only when it must. */
function ownBuffer(view: Uint8Array): Uint8Array<ArrayBuffer> {
  const whole = view.buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  // Node's small Buffers are slices of a shared pool: transferring that pool would break other buffers
  return whole ? (view as Uint8Array<ArrayBuffer>) : new Uint8Array(view);
}

/** Copies the caller's bytes once, so the transfer leaves the caller's Buffer (still needed to store it) intact. */
export function requestFor(id: number, input: MailInput, ctx: IngestContext): { request: ParseRequest; transfer: ArrayBuffer[] } {
  const copy = new Uint8Array(input.raw);
  return {
    request: {
      id,
      raw: copy.buffer,
      size: input.size,
      truncated: input.truncated,
      maxSizeBytes: ctx.maxSizeBytes,
      ownAddresses: [...ctx.ownAddresses],
    },
    transfer: [copy.buffer],
  };
}

/** Structured cloning turns Buffers into plain Uint8Arrays; the rest of Mailroom expects Buffers. */
export function reviveMail(mail: ParsedMail): ParsedMail {
  const attachments = mail.attachments.map((a) => {
    const bytes = a.content as Uint8Array;
    return { ...a, content: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  });
  return { ...mail, attachments };
}

/** Worker side: answers every ParseRequest from the parent with a ParseReply. */
export function serveParseRequests(parse: ParseFunction): void {
  const port = parentPort;
  if (!port) throw new Error("the parse worker must run in a worker thread");
  const handle = async (request: ParseRequest) => {
    const mail = await parse(
      { raw: Buffer.from(request.raw), size: request.size, truncated: request.truncated },
      { maxSizeBytes: request.maxSizeBytes, ownAddresses: new Set(request.ownAddresses) },
    );
    const transfer = new Set<ArrayBuffer>();
    const attachments = mail.attachments.map((a) => {
      const bytes = ownBuffer(a.content);
      transfer.add(bytes.buffer);
      return { ...a, content: bytes as Buffer };
    });
    const reply: ParseReply = { type: "parsed", id: request.id, mail: { ...mail, attachments } };
    port.postMessage(reply, [...transfer]);
  };
  // One at a time, in order: the pool may send the next message early, and counts on the first
  // unanswered one being the one in progress. parse never rejects; if it ever did, the rejection is
  // unhandled, the worker dies, and the pool answers for the message.
  let previous: Promise<void> = Promise.resolve();
  port.on("message", (request: ParseRequest) => {
    previous = previous.then(() => handle(request));
  });
  // tells the pool this worker loaded its modules and can take work
  port.postMessage({ type: "ready" } satisfies ParseReply);
}
