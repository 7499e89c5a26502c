import net from "node:net";
import { closeServer, listenOnLoopback } from "./net.js";

/** What the proxy does instead of passing a command on; a test may change them at any time. */
export interface ImapFaults {
  /** a UID FETCH of message content whose UID set touches one of these is answered NO [SERVERBUG] */
  failFetchOf: Set<number>;
  /** the same match, but both connections are closed instead */
  dropOnFetchOf: Set<number>;
  /** a UID STORE that adds \Seen is answered NO [NOPERM] */
  failStoreSeen: boolean;
}

export interface ImapFaultProxy {
  host: "127.0.0.1";
  port: number;
  faults: ImapFaults;
  /** the first line of every client command, in order, across connections; credentials masked */
  log: string[];
  /**
   * Sends the clients an untagged `* BYE` (between two server responses) and closes nothing: a server
   * that is shutting down says so a moment before its connections go.
   */
  sayBye(): void;
  stop(): Promise<void>;
}

const SERVERBUG = "NO [SERVERBUG] Internal error occurred. Refer to server log for more information.";
const NOPERM = "NO [NOPERM] Permission denied";
const LF = 0x0a;

interface Literal {
  size: number;
  /** `{n}`: the client waits for the server's "+" before it sends the bytes; `{n+}` does not */
  sync: boolean;
}

type Frame = { kind: "line"; bytes: Buffer; literal: Literal | null } | { kind: "literal"; bytes: Buffer };

type Verdict = { action: "forward" } | { action: "answer"; response: string } | { action: "drop" };

/**
 * A plain-TCP proxy on 127.0.0.1 in front of a real IMAP server that fails chosen commands the way
 * servers in the field do (Dovecot's own "Internal error", a permission refusal, a dropped
 * connection), which the real server cannot be made to do on cue. Everything else passes byte for
 * byte. It reads both directions as IMAP, literals included, so that it recognises commands and
 * answers only between two server responses. After STARTTLS or COMPRESS it can read neither, so it
 * passes bytes on blindly from then on.
 */
export async function startImapFaultProxy(target: { targetHost: string; targetPort: number }): Promise<ImapFaultProxy> {
  const faults: ImapFaults = { failFetchOf: new Set(), dropOnFetchOf: new Set(), failStoreSeen: false };
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const injectors = new Set<(text: string) => void>();

  const relay = (client: net.Socket) => {
    const upstream = net.connect({ host: target.targetHost, port: target.targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
    }
    const fromClient = new ImapFramer();
    const fromServer = new ImapFramer();
    let closed = false;
    let opaque = false;
    /** a command whose literal is still to come, and whether its bytes go to the server */
    let open: { tag: string; swallow: boolean; answer: string | null; awaitingSync: boolean } | null = null;
    /** the tag of an AUTHENTICATE under way: until its answer, client lines are SASL responses */
    let saslTag: string | null = null;
    /** the tag of a STARTTLS or COMPRESS: after its OK the stream is no longer readable IMAP */
    let switchTag: string | null = null;
    /** nothing of a server response is half written to the client */
    let atBoundary = true;
    let responseStart = "";
    const injections: string[] = [];

    const hangUp = () => {
      closed = true;
      client.destroy();
      upstream.destroy();
    };
    const inject = (text: string) => {
      if (atBoundary) client.write(text);
      else injections.push(text);
    };
    injectors.add(inject);
    client.on("close", () => injectors.delete(inject));

    const endCommand = (command: NonNullable<typeof open>, literal: Literal | null) => {
      if (literal) {
        open = command;
        command.awaitingSync = literal.sync;
        // a command the server never sees still needs the go-ahead the server would have given
        if (command.swallow && literal.sync) inject("+ Ready for literal data\r\n");
        return;
      }
      open = null;
      if (command.answer !== null) inject(`${command.tag} ${command.answer}\r\n`);
    };

    const onClientFrame = (frame: Frame) => {
      if (open) {
        // the rest of a command after a literal (its bytes, or the line that follows them)
        const command = open;
        command.awaitingSync = false;
        if (!command.swallow) upstream.write(frame.bytes);
        if (frame.kind === "line") endCommand(command, frame.literal);
        return;
      }
      if (frame.kind === "literal" || saslTag !== null) {
        // a SASL response (credentials: passed on, never logged), or bytes after one that looked
        // like a literal announcement
        upstream.write(frame.bytes);
        return;
      }
      const line = frame.bytes.toString("latin1").replace(/\r?\n$/, "");
      log.push(masked(line));
      const verdict = verdictFor(line, faults);
      if (verdict.action === "drop") return hangUp();
      const [tag = "", name = ""] = line.split(" ");
      if (/^AUTHENTICATE$/i.test(name)) saslTag = tag;
      if (/^(STARTTLS|COMPRESS)$/i.test(name)) switchTag = tag;
      const swallow = verdict.action === "answer";
      if (!swallow) upstream.write(frame.bytes);
      endCommand({ tag, swallow, answer: swallow ? verdict.response : null, awaitingSync: false }, frame.literal);
    };

    /** Called with the first line of each complete server response. */
    const onServerResponse = (first: string) => {
      const tagged = /^(\S+) (OK|NO|BAD)\b/i.exec(first);
      if (!tagged || tagged[1] === "*" || tagged[1] === "+") return;
      const tag = tagged[1]!;
      if (tag === saslTag) saslTag = null;
      // the server refused a command before its synchronising literal: the client sends no bytes
      if (open?.tag === tag && open.awaitingSync) {
        open = null;
        fromClient.cancelLiteral();
      }
      if (tag === switchTag) {
        switchTag = null;
        opaque = tagged[2]!.toUpperCase() === "OK";
      }
    };

    const relayServerFrames = (frames: Frame[]) => {
      for (const [i, frame] of frames.entries()) {
        client.write(frame.bytes);
        if (frame.kind === "literal") continue;
        if (atBoundary) responseStart = frame.bytes.toString("latin1", 0, Math.min(frame.bytes.length, 200));
        atBoundary = frame.literal === null;
        if (!atBoundary) continue;
        onServerResponse(responseStart);
        for (const text of injections.splice(0)) client.write(text);
        if (opaque) {
          // what follows the OK in this chunk is already compressed or encrypted
          for (const rest of frames.slice(i + 1)) client.write(rest.bytes);
          client.write(fromServer.drain());
          return;
        }
      }
    };

    client.on("data", (chunk: Buffer) => {
      if (closed) return;
      if (opaque) {
        upstream.write(chunk);
        return;
      }
      // one write for the whole chunk where nothing was held back, not one per line
      upstream.cork();
      try {
        for (const frame of fromClient.push(chunk)) {
          if (closed) return;
          onClientFrame(frame);
        }
      } finally {
        upstream.uncork();
      }
    });

    upstream.on("data", (chunk: Buffer) => {
      if (closed) return;
      if (opaque) {
        client.write(chunk);
        return;
      }
      const frames = fromServer.push(chunk);
      client.cork();
      try {
        relayServerFrames(frames);
      } finally {
        client.uncork();
      }
    });

    client.on("error", hangUp);
    upstream.on("error", hangUp);
    // an orderly close passes on what is still buffered; only errors and faults cut both at once
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("close", () => {
      closed = true;
      upstream.destroy();
    });
    upstream.on("close", () => {
      closed = true;
      client.end();
    });
  };

  const server = net.createServer(relay);
  const port = await listenOnLoopback(server);

  return {
    host: "127.0.0.1",
    port,
    faults,
    log,
    sayBye: () => {
      for (const inject of injectors) inject("* BYE Server shutting down.\r\n");
    },
    stop: () => closeServer(server, sockets),
  };
}

/** Cuts one direction of an IMAP stream into lines and literal bytes, wherever its chunks end. */
class ImapFramer {
  private partial: Buffer[] = [];
  private literalLeft = 0;

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - at);
        frames.push({ kind: "literal", bytes: chunk.subarray(at, at + take) });
        this.literalLeft -= take;
        at += take;
        continue;
      }
      const nl = chunk.indexOf(LF, at);
      if (nl === -1) {
        this.partial.push(chunk.subarray(at));
        break;
      }
      const bytes = Buffer.concat([...this.partial, chunk.subarray(at, nl + 1)]);
      this.partial = [];
      const literal = literalAtEnd(bytes);
      this.literalLeft = literal?.size ?? 0;
      frames.push({ kind: "line", bytes, literal });
      at = nl + 1;
    }
    return frames;
  }

  /** the announced literal will not come (the server refused it) */
  cancelLiteral(): void {
    this.literalLeft = 0;
  }

  /** the bytes of a line not yet complete */
  drain(): Buffer {
    const rest = Buffer.concat(this.partial);
    this.partial = [];
    return rest;
  }
}

/** `{n}` or `{n+}` (also after `~`, RFC 3516) right before the line end announces n raw bytes. */
function literalAtEnd(line: Buffer): Literal | null {
  const tail = line.toString("latin1", Math.max(0, line.length - 32));
  const found = /\{(\d+)(\+)?\}\r?\n$/.exec(tail);
  return found ? { size: Number(found[1]), sync: found[2] === undefined } : null;
}

function masked(line: string): string {
  const credentials = /^(\S+ LOGIN|\S+ AUTHENTICATE \S+) /i.exec(line);
  return credentials ? `${credentials[1]} ***` : line;
}

function verdictFor(line: string, faults: ImapFaults): Verdict {
  const command = /^\S+ UID (FETCH|STORE) (\S+) (.*)$/i.exec(line);
  if (!command) return { action: "forward" };
  const [, name = "", set = "", rest = ""] = command;
  if (name.toUpperCase() === "FETCH") {
    if (!asksForContent(rest)) return { action: "forward" };
    if (touches(set, faults.dropOnFetchOf)) return { action: "drop" };
    if (touches(set, faults.failFetchOf)) return { action: "answer", response: SERVERBUG };
    return { action: "forward" };
  }
  return faults.failStoreSeen && addsSeen(rest) ? { action: "answer", response: NOPERM } : { action: "forward" };
}

/** BODY[…], BODY.PEEK[…], BINARY[…], RFC822, RFC822.HEADER, RFC822.TEXT; not RFC822.SIZE or BODYSTRUCTURE */
function asksForContent(items: string): boolean {
  return /(?:^|[\s(])(?:(?:BODY|BINARY)(?:\.PEEK)?\[|RFC822(?:\.HEADER|\.TEXT)?(?=[\s)]|$))/i.test(items);
}

/** `+FLAGS (\Seen …)` or `+FLAGS.SILENT …`, after an optional `(UNCHANGEDSINCE n)` */
function addsSeen(rest: string): boolean {
  const store = /^(?:\([^)]*\)\s+)?\+FLAGS(?:\.SILENT)?\s+\(?([^)]*)\)?/i.exec(rest);
  return store !== null && store[1]!.split(/\s+/).some((flag) => flag.toLowerCase() === "\\seen");
}

/**
 * Whether a UID set (`1:5,7,9:*`) may include one of the UIDs. `*` is the highest UID, which the
 * proxy does not know: as the end of a range it counts as infinity, alone it may be any UID.
 */
function touches(set: string, uids: Set<number>): boolean {
  if (uids.size === 0) return false;
  const ranges: [number, number][] = [];
  for (const part of set.split(",")) {
    if (part === "*") return true;
    const range = /^(\d+|\*)(?::(\d+|\*))?$/.exec(part);
    // `$` (a saved search result) cannot be known here
    if (!range) return false;
    const from = bound(range[1]!);
    const to = range[2] === undefined ? from : bound(range[2]);
    ranges.push([Math.min(from, to), Math.max(from, to)]);
  }
  return [...uids].some((uid) => ranges.some(([low, high]) => uid >= low && uid <= high));
}

function bound(value: string): number {
  return value === "*" ? Number.POSITIVE_INFINITY : Number(value);
}
