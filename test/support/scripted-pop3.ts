import net from "node:net";
import { closeServer, listenOnLoopback } from "./net.js";

export interface Pop3Message {
  uidl: string;
  raw: Buffer;
}

/**
 * The messages of the one account; tests edit it between and during sessions. A session works on
 * the messages there were at its PASS: what is added meanwhile waits for the next session, and
 * what is removed meanwhile can still be read in it.
 */
export interface ScriptedMaildrop {
  /** Adds a message at the end and returns its UIDL; UIDLs may repeat, on purpose. */
  add(raw: Buffer | string, uidl?: string): string;
  /** Removes every message with this UIDL and returns how many there were. */
  remove(uidl: string): number;
  list(): Pop3Message[];
  readonly count: number;
}

/** How the server misbehaves; read at every command, so a test may change it mid-session. */
export interface Pop3Script {
  /** false: TOP is an unknown command and CAPA does not offer it */
  top: boolean;
  /** a text makes RETR of a message with that UIDL answer `-ERR <text>` */
  retrError: (uidl: string) => string | null;
  /** true makes the server close the connection instead of answering RETR of that message */
  dropOnRetr: (uidl: string) => boolean;
  /** true: QUIT answers -ERR and deletes nothing */
  quitError: boolean;
}

export interface ScriptedPop3Options extends Partial<Pop3Script> {
  user?: string;
  password?: string;
}

export interface ScriptedPop3 {
  host: "127.0.0.1";
  port: number;
  user: string;
  password: string;
  maildrop: ScriptedMaildrop;
  script: Pop3Script;
  /** every command line received, in order, from every session; PASS arguments masked */
  log: string[];
  /** the raw messages that QUITs removed so far, in order */
  deleted(): Buffer[];
  /** resolves once no connection is open, e.g. after a client hung up without QUIT */
  allClosed(): Promise<void>;
  stop(): Promise<void>;
}

const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from("\r\n");
const TERMINATOR = Buffer.from(".\r\n");
/** RFC 2449 allows 255 octets; anything far beyond is a broken client, not a test of ours */
const MAX_LINE_BYTES = 8 * 1024;

let autoUidl = 0;

/**
 * A POP3 maildrop (RFC 1939, plain TCP on 127.0.0.1) that does what the test says: duplicate or
 * reused UIDLs, a TOP it does not know, a RETR that fails or hangs up, a QUIT that fails. Dovecot
 * does none of these, and the POP3 source must survive all of them.
 */
export async function startScriptedPop3(opts: ScriptedPop3Options = {}): Promise<ScriptedPop3> {
  const user = opts.user ?? "pop3-user";
  const password = opts.password ?? "pop3-password";
  const script: Pop3Script = {
    top: opts.top ?? true,
    retrError: opts.retrError ?? (() => null),
    dropOnRetr: opts.dropOnRetr ?? (() => false),
    quitError: opts.quitError ?? false,
  };
  // the entries are objects so that a session deletes exactly the ones it numbered, whatever their UIDL
  const entries: Pop3Message[] = [];
  const removedByQuit: Buffer[] = [];
  const log: string[] = [];
  const sockets = new Set<net.Socket>();
  const whenAllClosed: (() => void)[] = [];
  let lockedBy: net.Socket | null = null;

  const maildrop: ScriptedMaildrop = {
    add(raw, uidl) {
      autoUidl++;
      const entry = { uidl: uidl ?? `scripted-${autoUidl}`, raw: Buffer.from(raw) };
      entries.push(entry);
      return entry.uidl;
    },
    remove(uidl) {
      let removed = 0;
      for (let i = entries.length - 1; i >= 0; i--) {
        if (entries[i]!.uidl === uidl) {
          entries.splice(i, 1);
          removed++;
        }
      }
      return removed;
    },
    list: () => entries.map((e) => ({ uidl: e.uidl, raw: Buffer.from(e.raw) })),
    get count() {
      return entries.length;
    },
  };

  const serve = (socket: net.Socket) => {
    sockets.add(socket);
    let state: "authorization" | "transaction" | "closed" = "authorization";
    let givenUser: string | null = null;
    // message numbers are fixed at PASS (RFC 1939 section 5): later additions wait for the next session
    let session: { entry: Pop3Message; deleted: boolean }[] = [];
    let pending = Buffer.alloc(0);

    const reply = (line: string): void => {
      socket.write(`${line}\r\n`);
    };
    const replyMulti = (status: string, body: Buffer): void => {
      socket.write(Buffer.concat([Buffer.from(`${status}\r\n`), stuff(body), TERMINATOR]));
    };
    const hangUp = () => {
      state = "closed";
      // the session is over once it said so, not when the client gets round to closing its end
      if (lockedBy === socket) lockedBy = null;
      // end(), not destroy(): the answers already written must still reach the client
      socket.end();
    };

    /** The message a number argument names, or null after answering -ERR. */
    const message = (arg: string | undefined): { entry: Pop3Message; deleted: boolean } | null => {
      const n = arg !== undefined && /^\d+$/.test(arg) ? Number(arg) : NaN;
      const found = session[n - 1];
      if (!found) {
        reply(`-ERR no such message`);
        return null;
      }
      if (found.deleted) {
        reply(`-ERR message ${n} already deleted`);
        return null;
      }
      return found;
    };
    const live = () => session.map((m, i) => ({ n: i + 1, ...m })).filter((m) => !m.deleted);

    const command = (line: string) => {
      const [verb = "", ...args] = line.split(" ");
      const name = verb.toUpperCase();
      log.push(name === "PASS" ? "PASS ***" : line);
      if (name === "CAPA") {
        const capabilities = [...(script.top ? ["TOP"] : []), "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE"];
        replyMulti("+OK Capability list follows", Buffer.from(capabilities.map((c) => `${c}\r\n`).join("")));
        return;
      }
      if (name === "NOOP" && state === "transaction") return reply("+OK");
      if (name === "QUIT") return quit();
      if (state === "authorization") {
        if (name === "USER") {
          givenUser = args.join(" ");
          return reply("+OK send PASS");
        }
        if (name === "PASS") {
          if (givenUser === null) return reply("-ERR USER first");
          const ok = givenUser === user && args.join(" ") === password;
          givenUser = null;
          if (!ok) return reply("-ERR [AUTH] invalid user name or password");
          if (lockedBy !== null) return reply("-ERR [IN-USE] maildrop already locked by another session");
          lockedBy = socket;
          state = "transaction";
          session = entries.map((entry) => ({ entry, deleted: false }));
          return reply(`+OK maildrop has ${session.length} messages`);
        }
        return reply(isKnown(name) ? "-ERR not logged in" : "-ERR unknown command");
      }
      switch (name) {
        case "STAT": {
          const messages = live();
          return reply(`+OK ${messages.length} ${messages.reduce((sum, m) => sum + m.entry.raw.length, 0)}`);
        }
        case "LIST":
        case "UIDL": {
          const value = (m: { entry: Pop3Message }) => (name === "LIST" ? String(m.entry.raw.length) : m.entry.uidl);
          if (args.length > 0) {
            const found = message(args[0]);
            if (found) reply(`+OK ${args[0]} ${value(found)}`);
            return;
          }
          const lines = live().map((m) => `${m.n} ${value(m)}\r\n`);
          return replyMulti("+OK", Buffer.from(lines.join("")));
        }
        case "RETR": {
          const found = message(args[0]);
          if (!found) return;
          if (script.dropOnRetr(found.entry.uidl)) return hangUp();
          const error = script.retrError(found.entry.uidl);
          if (error !== null) return reply(`-ERR ${error}`);
          return replyMulti(`+OK ${found.entry.raw.length} octets`, found.entry.raw);
        }
        case "TOP": {
          if (!script.top) return reply("-ERR unknown command");
          const lines = args[1] !== undefined && /^\d+$/.test(args[1]) ? Number(args[1]) : NaN;
          if (Number.isNaN(lines)) return reply("-ERR TOP needs a message number and a line count");
          const found = message(args[0]);
          if (found) replyMulti("+OK", headAndLines(found.entry.raw, lines));
          return;
        }
        case "DELE": {
          const found = message(args[0]);
          if (!found) return;
          found.deleted = true;
          return reply(`+OK message ${args[0]} deleted`);
        }
        case "RSET":
          for (const m of session) m.deleted = false;
          return reply(`+OK maildrop has ${session.length} messages`);
        default:
          return reply(name === "USER" || name === "PASS" ? "-ERR already logged in" : "-ERR unknown command");
      }
    };

    const quit = () => {
      if (state === "transaction") {
        if (script.quitError) {
          reply("-ERR [SYS/TEMP] could not remove the deleted messages");
          return hangUp();
        }
        // the UPDATE state (RFC 1939 section 6): only now do the DELEs take effect
        for (const m of session) {
          const at = m.deleted ? entries.indexOf(m.entry) : -1;
          if (at === -1) continue;
          entries.splice(at, 1);
          removedByQuit.push(m.entry.raw);
        }
      }
      reply("+OK bye");
      hangUp();
    };

    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (state === "closed") return;
        const nl = pending.indexOf(LF);
        if (nl === -1) break;
        const line = pending.subarray(0, nl).toString("utf8").replace(/\r$/, "");
        pending = pending.subarray(nl + 1);
        command(line);
      }
      if (pending.length > MAX_LINE_BYTES) {
        reply("-ERR line too long");
        hangUp();
      }
    });
    // a reset by the client is how some sessions end; the close below cleans up either way
    socket.on("error", () => {});
    socket.on("close", () => {
      state = "closed";
      sockets.delete(socket);
      if (sockets.size === 0) for (const resolve of whenAllClosed.splice(0)) resolve();
      // a session that ends without QUIT deletes nothing, it only gives the lock back
      if (lockedBy === socket) lockedBy = null;
    });
    reply("+OK scripted POP3 ready");
  };

  const server = net.createServer(serve);
  const port = await listenOnLoopback(server);

  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    maildrop,
    script,
    log,
    deleted: () => removedByQuit.map((raw) => Buffer.from(raw)),
    allClosed: () => (sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => whenAllClosed.push(resolve))),
    stop: () => closeServer(server, sockets),
  };
}

function isKnown(name: string): boolean {
  return ["STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "NOOP"].includes(name);
}

/**
 * A multi-line body on the wire: lines beginning with "." get another one, and a message that
 * does not end with a line break gets CRLF, or the terminator would join its last line.
 */
function stuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    const nl = body.indexOf(LF, start);
    const end = nl === -1 ? body.length : nl + 1;
    if (body[start] === DOT) parts.push(Buffer.from("."));
    parts.push(body.subarray(start, end));
    start = end;
  }
  if (body.length > 0 && body[body.length - 1] !== LF) parts.push(CRLF);
  return Buffer.concat(parts);
}

/** TOP: the header, the empty line after it, and the first `lines` lines of the body. */
function headAndLines(raw: Buffer, lines: number): Buffer {
  let at = 0;
  let inHeader = true;
  let bodyLines = 0;
  while (at < raw.length) {
    if (!inHeader && bodyLines >= lines) break;
    const nl = raw.indexOf(LF, at);
    const end = nl === -1 ? raw.length : nl + 1;
    if (inHeader) {
      const line = raw.subarray(at, end);
      if (line.equals(CRLF) || (line.length === 1 && line[0] === LF)) inHeader = false;
    } else {
      bodyLines++;
    }
    at = end;
  }
  return raw.subarray(0, at);
}
