import net from "node:net";
import tls from "node:tls";
import type { ImapFlow } from "imapflow";
import { MailSourceError, type MailSourceSettings, type TestStep } from "../mail-source.js";
import { TestSteps } from "../test-steps.js";
import { ServerWordsLog, newImapClient, withDeadline } from "./imap-client.js";
import { imapError } from "./imap-errors.js";

/**
 * The IMAP connection test: connect (with TLS or STARTTLS as configured) and read the greeting,
 * log in, open the folder read-only (EXAMINE). Never changes mail; always logs out.
 */
export async function testImap(settings: MailSourceSettings): Promise<TestStep[]> {
  const steps = new TestSteps((err) => imapError(err, settings));
  const where = `${settings.host}:${settings.port}`;
  const probe = await steps.run("connect", async () => {
    const { greeting, tlsProtocol } = await probeGreeting(settings);
    const security = tlsProtocol ? `with ${settings.security === "starttls" ? "STARTTLS" : "TLS"} (${tlsProtocol})` : "without encryption";
    return { value: true, message: `Connected to ${where} ${security}. The server says: ${greeting}` };
  });
  if (!probe) return steps.steps;

  const client = await steps.run("authenticate", async () => {
    const c = await newImapClient(settings, new ServerWordsLog());
    c.on("error", () => {});
    try {
      await c.connect();
    } catch (err) {
      c.close();
      throw err;
    }
    return { value: c, message: `Logged in as ${settings.login}.` };
  });
  if (!client) return steps.steps;

  try {
    await steps.run("open_folder", async () => {
      const folder = settings.folder || "INBOX";
      const box = await client.mailboxOpen(folder, { readOnly: true });
      let message = `The folder "${box.path}" opens and holds ${box.exists} message${box.exists === 1 ? "" : "s"}.`;
      if (settings.acknowledge.mode === "move") {
        const target = settings.acknowledge.folder;
        if (!(await folderExists(client, target))) {
          throw new MailSourceError("folder_missing", `The folder "${target}" that acknowledged messages are moved to does not exist.`);
        }
        message += ` The folder "${target}" for acknowledged messages exists.`;
      }
      return { value: true, message };
    });
  } finally {
    await withDeadline(client.logout(), 2_000, () => new Error("LOGOUT timed out")).catch(() => undefined);
    client.close();
  }
  return steps.steps;
}

async function folderExists(client: ImapFlow, folder: string): Promise<boolean> {
  try {
    return Boolean(await client.status(folder, { messages: true }));
  } catch {
    return false;
  }
}

/** Opens a socket as the settings say, reads the greeting, does STARTTLS where asked, and logs out. */
async function probeGreeting(settings: MailSourceSettings): Promise<{ greeting: string; tlsProtocol: string | null }> {
  const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: !settings.allowInvalidCertificates };
  if (net.isIP(settings.host) === 0) tlsOptions.servername = settings.host;
  let socket: net.Socket = await open(settings, tlsOptions);
  try {
    const lines = new LineReader(socket, settings.connectTimeoutMs);
    const greetingLine = await lines.next();
    if (!/^\* (OK|PREAUTH)\b/i.test(greetingLine)) {
      throw new MailSourceError("protocol_error", `${settings.host}:${settings.port} did not greet like an IMAP server: ${greetingLine}`);
    }
    const greeting = greetingLine.replace(/^\* \w+ (\[[^\]]*\] )?/, "");
    if (settings.security === "starttls") {
      socket.write("m1 STARTTLS\r\n");
      let answer = await lines.next();
      while (answer.startsWith("*")) answer = await lines.next();
      if (!/^m1 OK\b/i.test(answer)) {
        throw new MailSourceError("tls_error", `${settings.host}:${settings.port} does not offer STARTTLS: ${answer}`, answer);
      }
      lines.detach();
      socket = await upgrade(socket, tlsOptions, settings.connectTimeoutMs);
    }
    socket.write("m2 LOGOUT\r\n");
    return { greeting, tlsProtocol: socket instanceof tls.TLSSocket ? socket.getProtocol() : null };
  } finally {
    socket.end();
    socket.destroy();
  }
}

function open(settings: MailSourceSettings, tlsOptions: tls.ConnectionOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const secure = settings.security === "tls";
    const socket = secure ? tls.connect({ host: settings.host, port: settings.port, ...tlsOptions }) : net.connect(settings.port, settings.host);
    const timer = setTimeout(() => fail(Object.assign(new Error("connect timeout"), { code: "CONNECT_TIMEOUT" })), settings.connectTimeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once("error", fail);
    socket.once(secure ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", fail);
      resolve(socket);
    });
  });
}

function upgrade(plain: net.Socket, tlsOptions: tls.ConnectionOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: plain, ...tlsOptions });
    const timer = setTimeout(() => fail(Object.assign(new Error("TLS handshake timeout"), { code: "UPGRADE_TIMEOUT" })), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once("error", fail);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.removeListener("error", fail);
      resolve(socket);
    });
  });
}

/** CRLF lines from a socket, each within the timeout. */
class LineReader {
  private buffer = "";
  private waiting: { resolve(line: string): void; reject(err: Error): void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString("latin1");
    this.deliver();
  };
  private readonly onEnd = () => this.fail(Object.assign(new Error("the server closed the connection"), { code: "EConnectionClosed" }));
  private readonly onError = (err: Error) => this.fail(err);

  constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(Object.assign(new Error("no answer"), { code: "GREETING_TIMEOUT" })), this.timeoutMs);
      this.waiting = {
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.deliver();
    });
  }

  detach(): void {
    this.socket.removeListener("data", this.onData);
    this.socket.removeListener("end", this.onEnd);
    this.socket.removeListener("error", this.onError);
  }

  private deliver(): void {
    if (!this.waiting) return;
    if (this.failure) return this.waiting.reject(this.failure);
    const nl = this.buffer.indexOf("\r\n");
    if (nl === -1) return;
    const line = this.buffer.slice(0, nl);
    this.buffer = this.buffer.slice(nl + 2);
    const waiting = this.waiting;
    this.waiting = null;
    waiting.resolve(line);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(this.failure);
  }
}
