import net from "node:net";
import tls from "node:tls";
import { Pop3ProtocolError, Pop3ResponseParser, type Pop3Response, type Pop3ResponseKind } from "./pop3-response-parser.js";

export interface Pop3ConnectOptions {
  host: string;
  port: number;
  security: "tls" | "starttls" | "none";
  allowInvalidCertificates: boolean;
  connectTimeoutMs: number;
  /** how long the server may stay silent while a command waits for its answer */
  commandTimeoutMs?: number;
}

/** A command the server answered with -ERR, with its words and RFC 2449 code. */
export class Pop3CommandError extends Error {
  constructor(
    readonly command: string,
    readonly serverText: string,
    readonly responseCode: string | undefined,
  ) {
    super(`${command} failed: -ERR ${serverText}`);
    this.name = "Pop3CommandError";
  }
}

/** A command Mailroom did not send: its argument holds CR, LF or NUL, which would end the line and start another command. */
export class Pop3UnsafeArgumentError extends Error {
  constructor(readonly command: string) {
    super(`${command} was not sent: its argument holds a line break or NUL`);
    this.name = "Pop3UnsafeArgumentError";
  }
}

/** The connection failed or timed out; `code` is Node's (ECONNREFUSED…) or ours (ETIMEOUT, ECLOSED). */
export class Pop3ConnectionError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Pop3ConnectionError";
    this.code = code;
  }
}

interface Waiter {
  command: string;
  resolve(response: Pop3Response): void;
  reject(err: Error): void;
}

/**
 * A small POP3 client over node:net / node:tls with promises: one command at a time, in order.
 * Message bodies stay Buffers, byte for byte as the server holds them.
 */
export class Pop3Client {
  private socket: net.Socket;
  private parser: Pop3ResponseParser;
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private capabilities: string[] = [];
  private readonly commandTimeoutMs: number;
  /** the greeting's text after +OK */
  greeting = "";
  /** the negotiated TLS protocol, or null on a plain connection */
  tlsProtocol: string | null = null;

  private constructor(
    socket: net.Socket,
    private readonly options: Pop3ConnectOptions,
  ) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? Math.max(options.connectTimeoutMs, 30_000);
    this.socket = socket;
    this.parser = this.newParser();
    this.attach(socket);
  }

  /** Connects, reads the greeting, and with "starttls" upgrades the connection before returning. */
  static async connect(options: Pop3ConnectOptions): Promise<Pop3Client> {
    const socket = await openSocket(options);
    const client = new Pop3Client(socket, options);
    try {
      const greeting = await client.expect("greeting", "single", options.connectTimeoutMs);
      client.greeting = greeting.text;
      if (socket instanceof tls.TLSSocket) client.tlsProtocol = socket.getProtocol();
      if (options.security === "starttls") await client.startTls();
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  get usable(): boolean {
    return this.failure === null;
  }

  /** CAPA; an empty list when the server does not know the command */
  async capa(): Promise<string[]> {
    try {
      const body = await this.multi("CAPA");
      this.capabilities = body.toString("utf8").split(/\r?\n/).filter(Boolean);
    } catch (err) {
      if (!(err instanceof Pop3CommandError)) throw err;
      this.capabilities = [];
    }
    return this.capabilities;
  }

  async login(user: string, password: string): Promise<void> {
    await this.single("USER", `USER ${user}`);
    await this.single("PASS", `PASS ${password}`);
  }

  /** SASL XOAUTH2: `user=U^Aauth=Bearer T^A^A`; on failure the server sends a JSON challenge first. */
  async loginXoauth2(user: string, accessToken: string): Promise<void> {
    const initial = Buffer.from(`user=${user}\x01auth=Bearer ${accessToken}\x01\x01`).toString("base64");
    const response = await this.send("AUTH", `AUTH XOAUTH2 ${initial}`, "single");
    if (response.status === "continue") {
      // the error details come as a challenge; an empty answer lets the server end with -ERR
      const final = await this.send("AUTH", "", "single");
      throw errorOf("AUTH", final.status === "err" ? final : { ...final, text: Buffer.from(response.text, "base64").toString("utf8") });
    }
    if (response.status !== "ok") throw errorOf("AUTH", response);
  }

  async stat(): Promise<{ count: number; size: number }> {
    const text = await this.single("STAT");
    const [count, size] = text.split(" ").map(Number);
    if (!Number.isInteger(count) || !Number.isInteger(size)) throw new Pop3ProtocolError(`STAT answered "${text}"`);
    return { count: count!, size: size! };
  }

  /** message number → size */
  async list(): Promise<Map<number, number>> {
    return numberedLines(await this.multi("LIST"), (v) => Number(v));
  }

  /** message number → unique id */
  async uidl(): Promise<Map<number, string>> {
    return numberedLines(await this.multi("UIDL"), (v) => v);
  }

  retr(n: number): Promise<Buffer> {
    return this.multi("RETR", `RETR ${n}`);
  }

  top(n: number, lines: number): Promise<Buffer> {
    return this.multi("TOP", `TOP ${n} ${lines}`);
  }

  /**
   * The header block of message n (through its blank line) from a RETR whose body is read and dropped:
   * for servers without TOP (optional in RFC 1939), so a message over Max size never sits in memory.
   */
  async retrHead(n: number): Promise<Buffer> {
    const response = await this.send("RETR", `RETR ${n}`, "multi", { headOnly: true });
    if (response.status !== "ok") throw errorOf("RETR", response);
    return response.body ?? Buffer.alloc(0);
  }

  async dele(n: number): Promise<void> {
    await this.single("DELE", `DELE ${n}`);
  }

  async rset(): Promise<void> {
    await this.single("RSET");
  }

  async noop(): Promise<void> {
    await this.single("NOOP");
  }

  /** Ends the session; only a QUIT the server answered with +OK makes its DELEs take effect. */
  async quit(): Promise<void> {
    await this.single("QUIT");
    this.close();
  }

  close(): void {
    this.fail(new Pop3ConnectionError("ECLOSED", "the connection was closed"));
    this.socket.destroy();
  }

  private async startTls(): Promise<void> {
    await this.single("STLS");
    const plain = this.socket;
    plain.removeAllListeners("data");
    const secure = await upgradeSocket(plain, this.options);
    this.socket = secure;
    this.parser = this.newParser();
    this.attach(secure);
    this.tlsProtocol = secure.getProtocol();
    // what the server offered before the upgrade cannot be trusted (RFC 2595)
    await this.capa();
  }

  private newParser(): Pop3ResponseParser {
    return new Pop3ResponseParser((response) => this.waiters.shift()?.resolve(response));
  }

  private attach(socket: net.Socket): void {
    socket.on("data", (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        socket.destroy();
      }
    });
    socket.on("error", (err: Error) => this.fail(err));
    socket.on("close", () => this.fail(new Pop3ConnectionError("ECLOSED", "the server closed the connection")));
    socket.on("timeout", () => {
      if (this.waiters.length === 0) return;
      this.fail(new Pop3ConnectionError("ETIMEOUT", `no answer within ${this.commandTimeoutMs} ms`));
      socket.destroy();
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }

  private async single(command: string, line: string = command): Promise<string> {
    const response = await this.send(command, line, "single");
    if (response.status !== "ok") throw errorOf(command, response);
    return response.text;
  }

  private async multi(command: string, line: string = command): Promise<Buffer> {
    const response = await this.send(command, line, "multi");
    if (response.status !== "ok") throw errorOf(command, response);
    return response.body ?? Buffer.alloc(0);
  }

  private send(command: string, line: string, kind: Pop3ResponseKind, options: { headOnly?: boolean } = {}): Promise<Pop3Response> {
    if (this.failure) return Promise.reject(this.failure);
    // the API refuses such logins and passwords; this also holds for ones stored before it did
    if (line.includes("\r") || line.includes("\n") || line.includes("\u0000")) return Promise.reject(new Pop3UnsafeArgumentError(command));
    const answer = this.expect(command, kind, this.commandTimeoutMs, options);
    this.socket.write(`${line}\r\n`);
    return answer;
  }

  private expect(command: string, kind: Pop3ResponseKind, timeoutMs: number, options: { headOnly?: boolean } = {}): Promise<Pop3Response> {
    if (this.failure) return Promise.reject(this.failure);
    this.parser.expect(kind, options);
    this.socket.setTimeout(timeoutMs);
    return new Promise<Pop3Response>((resolve, reject) => {
      this.waiters.push({
        command,
        resolve: (response) => {
          if (this.waiters.length === 0) this.socket.setTimeout(0);
          resolve(response);
        },
        reject,
      });
    });
  }
}

function errorOf(command: string, response: Pop3Response): Pop3CommandError {
  return new Pop3CommandError(command, response.text, response.code);
}

function numberedLines<T>(body: Buffer, value: (v: string) => T): Map<number, T> {
  const out = new Map<number, T>();
  for (const line of body.toString("utf8").split(/\r?\n/)) {
    if (!line) continue;
    const [n, v] = line.split(" ");
    if (n === undefined || v === undefined || !/^\d+$/.test(n)) throw new Pop3ProtocolError(`unexpected listing line "${line}"`);
    out.set(Number(n), value(v));
  }
  return out;
}

function tlsOptions(options: Pop3ConnectOptions): tls.ConnectionOptions {
  const out: tls.ConnectionOptions = { rejectUnauthorized: !options.allowInvalidCertificates };
  if (net.isIP(options.host) === 0) out.servername = options.host;
  return out;
}

function openSocket(options: Pop3ConnectOptions): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const secure = options.security === "tls";
    const socket = secure
      ? tls.connect({ host: options.host, port: options.port, ...tlsOptions(options) })
      : net.connect({ host: options.host, port: options.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Pop3ConnectionError("CONNECT_TIMEOUT", `no connection within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    socket.once(secure ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once("error", onError);
  });
}

function upgradeSocket(plain: net.Socket, options: Pop3ConnectOptions): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const secure = tls.connect({ socket: plain, ...tlsOptions(options) });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new Pop3ConnectionError("UPGRADE_TIMEOUT", `no TLS handshake within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      secure.removeListener("error", onError);
      resolve(secure);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      secure.destroy();
      reject(err);
    };
    secure.once("error", onError);
  });
}
