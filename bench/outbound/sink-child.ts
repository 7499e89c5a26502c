/**
 * The SMTP server both senders deliver to: smtp-server on 127.0.0.1 in a Node process of its own (so
 * that Mailroom and the bare sender each share the machine with it the same way), accepting every
 * login and every message, keeping none. It reports, as JSON lines on stdout, when it listens, each
 * CLOCK_MONOTONIC arrival time when asked, and "done" when the number of messages it was told to expect
 * is in. With --hold it answers no MAIL FROM until told "release" on stdin: a slow server, which is how
 * the benchmark fills Mailroom's outbox before its clock starts (see setup.ts). A held MAIL FROM gets a
 * "250-" continuation line every 15 s, the start of a multi-line reply (RFC 5321 4.2.1) that the release
 * completes: the client's 60 s socket timeout (inactivity) never runs out, however long the filling takes.
 */
import type net from "node:net";
import readline from "node:readline";
import { parseArgs } from "node:util";
import { SMTPServer } from "smtp-server";
import { nowMs } from "../lib/clock.js";

const { values } = parseArgs({ options: { hold: { type: "boolean" }, "keep-alive-ms": { type: "string" } } });
let holding = values.hold ?? false;
const held: (() => void)[] = [];
let releasedAt: number | null = null;
const arrivals: number[] = [];
const messageIds = new Set<string>();
let bytes = 0;
let sessions = 0;
let open = 0;
let maxOpen = 0;
let expected = Number.POSITIVE_INFINITY;
let doneSent = false;
// smtp-server keeps its sockets to itself; they are found by the client's port (every client is on 127.0.0.1)
const sockets = new Map<number, net.Socket>();
const keepAliveMs = Number(values["keep-alive-ms"] ?? 15_000);

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const messageIdOf = (head: string): string | null => /^message-id:\s*(<[^>\r\n]*>)/im.exec(head)?.[1] ?? null;

function checkDone(): void {
  if (doneSent || arrivals.length < expected) return;
  doneSent = true;
  emit({ type: "done", received: arrivals.length, lastAt: arrivals[arrivals.length - 1] ?? null });
}

const server = new SMTPServer({
  secure: false,
  disabledCommands: ["STARTTLS"],
  authMethods: ["PLAIN", "LOGIN"],
  allowInsecureAuth: true,
  disableReverseLookup: true,
  logger: false,
  // a held session is quiet on the client's side for as long as the outbox takes to fill
  socketTimeout: 30 * 60_000,
  onConnect(_session, callback) {
    sessions++;
    maxOpen = Math.max(maxOpen, ++open);
    callback();
  },
  onClose() {
    open--;
  },
  onAuth(auth, _session, callback) {
    callback(null, { user: auth.username ?? "" });
  },
  onMailFrom(_address, session, callback) {
    if (!holding) return callback();
    const socket = sockets.get(session.remotePort);
    const timer = setInterval(() => socket?.write("250-Held by the benchmark until its clock starts\r\n"), keepAliveMs);
    held.push(() => {
      clearInterval(timer);
      callback();
    });
  },
  onData(stream, _session, callback) {
    let head = "";
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      // the header, for the Message-ID: a message sent twice shows as a duplicate
      if (head.length < 65_536 && !head.includes("\r\n\r\n")) head += chunk.toString("latin1", 0, Math.min(chunk.length, 65_536));
    });
    stream.on("end", () => {
      arrivals.push(nowMs());
      const end = head.indexOf("\r\n\r\n");
      const id = messageIdOf(end < 0 ? head : head.slice(0, end));
      if (id) messageIds.add(id);
      callback(null, `Ok: queued as ${arrivals.length}`);
      checkDone();
    });
  },
});
server.on("error", () => undefined);
server.server.on("connection", (socket: net.Socket) => {
  const port = socket.remotePort;
  if (port === undefined) return;
  sockets.set(port, socket);
  socket.once("close", () => sockets.delete(port));
});
server.listen(0, "127.0.0.1", () => {
  const address = server.server.address();
  emit({ type: "listening", port: typeof address === "object" && address ? address.port : 0 });
});

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [command, arg] = line.split(" ");
  if (command === "release") {
    releasedAt = nowMs();
    holding = false;
    const waiting = held.splice(0);
    for (const resume of waiting) resume();
    emit({ type: "released", at: releasedAt, held: waiting.length });
  } else if (command === "held") {
    emit({ type: "held", held: held.length, sessions, received: arrivals.length });
  } else if (command === "expect") {
    expected = Number(arg);
    checkDone();
  } else if (command === "stats") {
    emit({ type: "stats", received: arrivals.length, bytes, sessions, maxOpen, distinctMessageIds: messageIds.size, arrivals });
  } else if (command === "exit") {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  }
});
// the parent went away without saying so
lines.on("close", () => process.exit(0));
