/**
 * POP3 responses from a byte stream (RFC 1939, RFC 2449, RFC 5034), on Buffers so that 8-bit
 * message bytes stay exactly as the server sent them. Chunks may split anywhere.
 */

export type Pop3ResponseKind = "single" | "multi";

export interface Pop3Response {
  /** "+OK", "-ERR", or "+" for a SASL continuation */
  status: "ok" | "err" | "continue";
  /** the status line after the status indicator, without CRLF */
  text: string;
  /** the RFC 2449 response code of an -ERR, e.g. "AUTH", "IN-USE", "SYS/TEMP" */
  code: string | undefined;
  /** multi-line responses: the lines between the status line and the final ".", dot-unstuffed, CRLF kept */
  body: Buffer | undefined;
}

export class Pop3ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Pop3ProtocolError";
  }
}

const LF = 0x0a;
const DOT = 0x2e;

interface Expectation {
  kind: Pop3ResponseKind;
  /** keep the body only up to and including its first blank line (the header block of a message) */
  headOnly: boolean;
  /** headOnly: the blank line was seen, or the cap reached; later lines are read and dropped */
  headDone: boolean;
  /** set once the status line of a multi-line response was read */
  status?: Pop3Response;
  parts: Buffer[];
  bytes: number;
}

/**
 * Feed it chunks with push(); it answers the expectations queued with expect(), in order.
 * A status line must come within `maxLineBytes`; a multi-line body may grow to `maxBodyBytes`.
 */
export class Pop3ResponseParser {
  private pending: Buffer | null = null;
  private readonly queue: Expectation[] = [];

  constructor(
    private readonly onResponse: (response: Pop3Response) => void,
    private readonly limits: { maxLineBytes: number; maxBodyBytes: number; maxHeadBytes: number } = {
      maxLineBytes: 64 * 1024,
      maxBodyBytes: 512 * 1024 * 1024,
      maxHeadBytes: 256 * 1024,
    },
  ) {}

  /**
   * The next response is of this kind (a multi-line command answered with -ERR has no body). With
   * `headOnly`, a multi-line body is kept only up to its first blank line (at most `maxHeadBytes`) and
   * the rest is read and dropped: the header block of a message too large to hold in memory.
   */
  expect(kind: Pop3ResponseKind, options: { headOnly?: boolean } = {}): void {
    this.queue.push({ kind, headOnly: options.headOnly ?? false, headDone: false, parts: [], bytes: 0 });
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Throws Pop3ProtocolError on bytes that cannot be a POP3 response; the stream is then unusable. */
  push(chunk: Buffer): void {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(LF, start);
      if (nl === -1) break;
      this.line(data.subarray(start, nl + 1));
      start = nl + 1;
    }
    if (start < data.length) {
      data = data.subarray(start);
      const head = this.queue[0];
      if (head?.status && head.headOnly && (head.headDone || head.bytes + data.length > this.limits.maxHeadBytes)) {
        // A line that can no longer be kept is dropped, however long (a body is not bound to 998-byte
        // lines in practice). Its first bytes are enough to tell it from the terminator.
        head.headDone = true;
        this.pending = Buffer.from(data.subarray(0, 3));
        return;
      }
      const limit = head?.status ? this.limits.maxBodyBytes : this.limits.maxLineBytes;
      if (data.length > limit) throw new Pop3ProtocolError(`a line of more than ${limit} bytes`);
      // copied: the chunk it points into would otherwise stay alive with it
      this.pending = Buffer.from(data);
    }
  }

  private line(line: Buffer): void {
    const head = this.queue[0];
    if (!head) throw new Pop3ProtocolError(`unexpected data from the server: ${printable(line)}`);
    if (!head.status) {
      const response = parseStatusLine(line);
      if (head.kind === "single" || response.status !== "ok") {
        this.queue.shift();
        this.onResponse(response);
        return;
      }
      head.status = response;
      return;
    }
    if (line[0] === DOT) {
      if (isTerminator(line)) {
        this.queue.shift();
        this.onResponse({ ...head.status, body: Buffer.concat(head.parts, head.bytes) });
        return;
      }
      // dot-stuffing: the server doubled a leading dot
      line = line.subarray(1);
    }
    if (head.headOnly) {
      if (head.headDone) return;
      if (head.bytes + line.length > this.limits.maxHeadBytes) {
        head.headDone = true;
        return;
      }
      head.bytes += line.length;
      head.parts.push(line);
      if (isBlankLine(line)) head.headDone = true;
      return;
    }
    head.bytes += line.length;
    if (head.bytes > this.limits.maxBodyBytes) throw new Pop3ProtocolError(`a response of more than ${this.limits.maxBodyBytes} bytes`);
    head.parts.push(line);
  }
}

function isBlankLine(line: Buffer): boolean {
  return (line.length === 2 && line[0] === 0x0d && line[1] === LF) || (line.length === 1 && line[0] === LF);
}

function isTerminator(line: Buffer): boolean {
  return (line.length === 3 && line[1] === 0x0d && line[2] === LF) || (line.length === 2 && line[1] === LF);
}

function parseStatusLine(line: Buffer): Pop3Response {
  const text = line.toString("utf8").replace(/\r?\n$/, "");
  if (text.startsWith("+OK")) return { status: "ok", text: text.slice(3).trimStart(), code: undefined, body: undefined };
  if (text.startsWith("-ERR")) {
    const rest = text.slice(4).trimStart();
    const code = /^\[([^\]]+)\]/.exec(rest)?.[1];
    return { status: "err", text: rest, code, body: undefined };
  }
  if (text === "+" || text.startsWith("+ ")) return { status: "continue", text: text.slice(2), code: undefined, body: undefined };
  throw new Pop3ProtocolError(`not a POP3 status line: ${printable(line)}`);
}

function printable(line: Buffer): string {
  return JSON.stringify(line.subarray(0, 80).toString("latin1"));
}
