import tls from "node:tls";
import nodemailer, { type SMTPConnectionAuth, type SMTPConnectionOptions, type SMTPPoolSentMessageInfo } from "nodemailer";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import XOAuth2 from "nodemailer/lib/xoauth2";
import { MailSendError, type MailSender, type OutboundMessage, type SendErrorCode, type SendReceipt } from "../mail-sender.js";
import { MailSourceError, type Credential, type CredentialProvider, type SourceErrorCode, type TestStep } from "../mail-source.js";
import { networkError } from "../network-errors.js";
import { TestSteps } from "../test-steps.js";

export interface SmtpSenderSettings {
  host: string;
  port: number;
  /** tls: TLS from the first byte (465); starttls: STARTTLS, and refuse a server without it (587); none: never TLS */
  security: "tls" | "starttls" | "none";
  login: string;
  credentials: CredentialProvider;
  /** connections kept open at once; 3 by default */
  maxConnections?: number;
  timeouts?: { connectMs: number; greetingMs: number; socketMs: number };
  tls?: { rejectUnauthorized?: boolean; ca?: string };
}

const defaultTimeouts = { connectMs: 10_000, greetingMs: 10_000, socketMs: 60_000 };

type Pool = ReturnType<typeof createPool>;

/** One pooled transport and the credential it was built with; retired when the server refuses that credential. */
interface Generation {
  pool: Promise<Pool>;
  retired: boolean;
}

/**
 * Sends over a nodemailer pool of SMTP connections. The pool logs every new connection in with the
 * credential it was built with, so when the server refuses it (a changed password, an expired access
 * token) the whole pool is dropped and the next send builds a new one from a fresh credential.
 *
 * The pool itself (nodemailer 10 smtp-pool/pool-resource) sends a message again, on a new connection, when a
 * connection that already carried mail drops before a byte of this one was written; a send only fails with
 * connection_failed when that did not apply or five such attempts failed.
 */
export class SmtpSender implements MailSender {
  private current: Generation | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly settings: SmtpSenderSettings) {}

  send(message: OutboundMessage): Promise<SendReceipt> {
    if (this.closed) {
      return Promise.reject(new MailSendError("closed", `The sender for ${this.where} is closed.`, { retry: true }));
    }
    const sending = this.sendOnce(message);
    const settled = () => this.inFlight.delete(sending);
    this.inFlight.add(sending);
    sending.then(settled, settled);
    return sending;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    const generation = this.current;
    this.current = null;
    if (generation) this.retire(generation, false);
  }

  private get where(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  private async sendOnce(message: OutboundMessage): Promise<SendReceipt> {
    const generation = (this.current ??= this.build());
    let pool: Pool;
    try {
      pool = await generation.pool;
    } catch (err) {
      this.retire(generation, false);
      throw credentialError(err, this.settings);
    }
    try {
      // raw goes out as it is: nodemailer adds no header to a raw message, the envelope is only the envelope
      const info = await pool.sendMail({ envelope: { from: message.envelope.from, to: message.envelope.to }, raw: message.raw });
      return receipt(info, message.envelope.to);
    } catch (err) {
      if (generation.retired && isPoolClosed(err)) {
        // queued behind a send whose login was refused: this message never reached the server
        throw new MailSendError(
          "auth_failed",
          `Not sent: ${this.where} refused the login of ${this.settings.login} on another connection. The next attempt logs in afresh.`,
          { retry: true, cause: err },
        );
      }
      const error = smtpSendError(err, this.settings);
      if (error.code === "auth_failed") this.retire(generation, true);
      throw error;
    }
  }

  private build(): Generation {
    return { retired: false, pool: this.settings.credentials.get().then((credential) => createPool(this.settings, credential)) };
  }

  /** Closes a generation's pool once; `refused` tells the provider its credential was turned down. */
  private retire(generation: Generation, refused: boolean): void {
    if (generation.retired) return;
    generation.retired = true;
    if (this.current === generation) this.current = null;
    if (refused) this.settings.credentials.refused();
    // sends already on a connection finish first: the pool closes a busy connection when it is free
    generation.pool.then(
      (pool) => pool.close(),
      () => undefined,
    );
  }
}

function createPool(settings: SmtpSenderSettings, credential: Credential) {
  const pool = nodemailer.createTransport({
    pool: true,
    ...connectionOptions(settings),
    maxConnections: settings.maxConnections ?? 3,
    auth: authOptions(settings.login, credential),
    // a mailbox with a login always logs in: without this nodemailer skips AUTH when the EHLO reply does not
    // offer it and sends anonymously, which at best ends in a 530 and at worst relays unauthenticated
    forceAuth: true,
    // a message is the bytes we hand over; nothing is to be read from a path or a URL
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // every failure also reaches the callback of the send it concerns; without a listener an 'error' would throw
  pool.on("error", () => undefined);
  return pool;
}

function authOptions(login: string, credential: Credential) {
  return credential.method === "password" ? { user: login, pass: credential.password } : { type: "OAuth2", user: login, accessToken: credential.accessToken };
}

function connectionOptions(settings: SmtpSenderSettings): SMTPConnectionOptions {
  const timeouts = settings.timeouts ?? defaultTimeouts;
  const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: settings.tls?.rejectUnauthorized ?? true };
  if (settings.tls?.ca) tlsOptions.ca = settings.tls.ca;
  return {
    host: settings.host,
    port: settings.port,
    secure: settings.security === "tls",
    requireTLS: settings.security === "starttls",
    ignoreTLS: settings.security === "none",
    connectionTimeout: timeouts.connectMs,
    greetingTimeout: timeouts.greetingMs,
    socketTimeout: timeouts.socketMs,
    tls: tlsOptions,
    logger: false,
  };
}

function receipt(info: SMTPPoolSentMessageInfo, given: string[]): SendReceipt {
  const original = spelledAsGiven(given);
  return {
    response: info.response,
    accepted: info.accepted.map(original),
    rejected: (info.rejectedErrors ?? []).map((err) => ({ address: original(err.recipient ?? ""), reply: err.response ?? err.message })),
  };
}

/** nodemailer lower-cases the domain of an address; answer with the caller's spelling. */
function spelledAsGiven(given: string[]): (address: string) => string {
  const byLowerCase = new Map(given.map((address) => [address.toLowerCase(), address]));
  return (address) => byLowerCase.get(address.toLowerCase()) ?? address;
}

/** What SMTPPool answers for a message queued when it closes (no code) or sent to it once closed (ECONNECTION). */
function isPoolClosed(err: unknown): boolean {
  return err instanceof Error && err.message === "Connection pool was closed";
}

function credentialError(err: unknown, settings: SmtpSenderSettings): MailSendError {
  const reason = err instanceof Error ? err.message : String(err);
  return new MailSendError("auth_failed", `Mailroom could not obtain the credential of ${settings.login}: ${reason}`, { retry: true, cause: err });
}

/** The properties nodemailer sets on its errors (errors.d.ts, NodemailerError); all optional. */
interface NodemailerErrorLike {
  code?: unknown;
  message?: unknown;
  response?: unknown;
  responseCode?: unknown;
  command?: unknown;
  originalCode?: unknown;
  timeoutType?: unknown;
  recipient?: unknown;
  rejectedErrors?: unknown;
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");
const envelopeCommands = new Set(["MAIL FROM", "RCPT TO", "DATA"]);
const stepWords: Record<string, string> = {
  CONN: "the connection",
  "MAIL FROM": "the sender (MAIL FROM)",
  "RCPT TO": "the recipients (RCPT TO)",
  DATA: "the message (DATA)",
};

/**
 * Turns what nodemailer threw into a MailSendError. Relies on nodemailer 10's smtp-connection:
 * `code` is the step that failed (EAUTH, ECONNECTION, ESOCKET, ETIMEDOUT, EDNS, ETLS, EENVELOPE, EMESSAGE,
 * EPROTOCOL); `originalCode` keeps the socket's own code (ECONNREFUSED, a certificate code); `response` and
 * `responseCode` are set whenever a server reply caused the error, `command` names the command it answered;
 * `timeoutType` tells which wait ran out. A 421 reply keeps its responseCode under whichever code the step
 * gave it (ECONNECTION, EENVELOPE, EMESSAGE). When every recipient is refused the error is EENVELOPE with
 * `rejectedErrors`, one per recipient, and a responseCode that is a 4xx when any of them was deferred.
 */
export function smtpSendError(err: unknown, settings: Pick<SmtpSenderSettings, "host" | "port" | "login" | "security" | "timeouts">): MailSendError {
  if (err instanceof MailSendError) return err;
  const e = (err && typeof err === "object" ? err : {}) as NodemailerErrorLike;
  const where = `${settings.host}:${settings.port}`;
  const timeouts = settings.timeouts ?? defaultTimeouts;
  const code = text(e.code);
  const message = text(e.message) || String(err);
  const response = text(e.response) || undefined;
  const responseCode = typeof e.responseCode === "number" ? e.responseCode : undefined;
  const command = text(e.command);
  const said = (retry: boolean) => ({ retry, serverText: response, responseCode, cause: err });

  if (code === "EAUTH" || code === "ENOAUTH" || code === "EOAUTH2" || responseCode === 530) {
    return new MailSendError("auth_failed", `${where} refused the login of ${settings.login}: ${response ?? message}`, said(true));
  }
  const refusals = recipientRefusals(e.rejectedErrors);
  if (code === "EENVELOPE" && refusals.length > 0) {
    // one deferred recipient is enough to try again: the ones refused for good are refused again, harmlessly
    const deferred = refusals.some((r) => r.reply.startsWith("4"));
    const list = refusals.map((r) => `${r.address} (${r.reply})`).join(", ");
    return new MailSendError(
      deferred ? "temporary" : "rejected",
      `${where} refused every recipient: ${list}.${deferred ? " Sending again later may work." : ""}`,
      said(deferred),
    );
  }
  // before the reply codes: a server that answers STARTTLS with 502 has no TLS to offer, whatever the code says
  if (code === "ETLS") {
    const how = settings.security === "starttls" ? "STARTTLS" : "TLS";
    return new MailSendError("tls_error", `${how} with ${where} failed: ${message}. Check the port and the security setting.`, said(true));
  }
  if (responseCode !== undefined && response !== undefined) {
    const step = stepWords[command] ?? (command || "the session");
    if (Math.floor(responseCode / 100) === 4) {
      return new MailSendError("temporary", `${where} deferred ${step}: ${response}. Sending again later may work.`, said(true));
    }
    // 503 is a session out of step, not a verdict on the message (RFC 5321 4.2.1)
    if (Math.floor(responseCode / 100) === 5 && envelopeCommands.has(command) && responseCode !== 503) {
      return new MailSendError("rejected", `${where} refused ${step}: ${response}`, said(false));
    }
    return new MailSendError("protocol_error", `${where} answered ${step} in a way Mailroom did not expect: ${response}`, said(true));
  }
  if (code === "ETIMEDOUT") return timeoutError(e, where, settings.security, timeouts, err);
  // the socket's own code (ECONNREFUSED, ENOTFOUND, a certificate code) says more than the step that failed
  const originalCode = text(e.originalCode);
  const target = { host: settings.host, port: settings.port, connectTimeoutMs: timeouts.connectMs };
  const fromNetwork = originalCode ? networkError({ code: originalCode, message }, target) : null;
  if (fromNetwork) {
    return new MailSendError(networkCodes[fromNetwork.code] ?? "connection_failed", fromNetwork.message, { retry: true, cause: err });
  }
  if (code === "EDNS") return new MailSendError("dns_error", `The host name ${settings.host} could not be resolved: ${message}`, said(true));
  if (code === "ECONNECTION" || code === "ESOCKET") {
    return new MailSendError("connection_failed", `The connection to ${where} ended before the server confirmed the message: ${message}`, said(true));
  }
  if (code === "EENVELOPE" || code === "EMESSAGE" || code === "EMAXRECIPIENTS") {
    // no reply: nodemailer refused before asking the server (no recipient, a bad address, over the server's SIZE)
    return new MailSendError("invalid_message", `The message cannot be sent: ${message}`, said(false));
  }
  return new MailSendError("protocol_error", `The SMTP session with ${where} failed: ${message}`, said(true));
}

const networkCodes: Partial<Record<SourceErrorCode, SendErrorCode>> = {
  connection_refused: "connection_failed",
  closed: "connection_failed",
  dns_error: "dns_error",
  timeout: "timeout",
  tls_error: "tls_error",
};

function recipientRefusals(value: unknown): { address: string; reply: string }[] {
  if (!Array.isArray(value)) return [];
  return value.map((item: unknown) => {
    const r = (item && typeof item === "object" ? item : {}) as NodemailerErrorLike;
    return { address: text(r.recipient), reply: text(r.response) || text(r.message) };
  });
}

function timeoutError(
  e: NodemailerErrorLike,
  where: string,
  security: SmtpSenderSettings["security"],
  timeouts: { connectMs: number; greetingMs: number; socketMs: number },
  cause: unknown,
): MailSendError {
  let message: string;
  switch (e.timeoutType) {
    case "CONNECT_TIMEOUT":
      message = `${where} did not accept a connection within ${timeouts.connectMs} ms.`;
      break;
    case "GREETING_TIMEOUT": {
      const hint = security === "tls" ? "" : " A port that expects TLS from the first byte (usually 465) needs the security setting TLS.";
      message = `${where} accepted the connection but sent no SMTP greeting within ${timeouts.greetingMs} ms.${hint}`;
      break;
    }
    case "UPGRADE_TIMEOUT":
      message = `The TLS handshake with ${where} did not finish in time.`;
      break;
    default:
      message = `${where} stopped answering for ${timeouts.socketMs} ms.`;
  }
  return new MailSendError("timeout", message, { retry: true, cause });
}

/**
 * The connection test of an outbound mailbox: connect (TLS or STARTTLS as configured) and say EHLO,
 * then log in. Sends no message; always closes the connection.
 */
export async function testSmtp(settings: SmtpSenderSettings): Promise<TestStep[]> {
  const steps = new TestSteps((err) => asSourceError(smtpSendError(err, settings)));
  const where = `${settings.host}:${settings.port}`;
  const connection = new SMTPConnection(connectionOptions(settings));
  // failures are taken from the callbacks and listeners below; an 'error' without a listener would throw
  connection.on("error", () => undefined);
  try {
    const connected = await steps.run("connect", async () => {
      await whileOpen(connection, (done) => connection.connect(done));
      const socket = connection._socket;
      const protocol = socket instanceof tls.TLSSocket ? socket.getProtocol() : null;
      const security = connection.secure ? `with ${settings.security === "starttls" ? "STARTTLS" : "TLS"} (${protocol ?? "?"})` : "without encryption";
      return { value: true, message: `Connected to ${where} ${security}.` };
    });
    if (!connected) return steps.steps;
    await steps.run("authenticate", async () => {
      if (!connection.allowsAuth) {
        const hint = settings.security === "none" ? " Many servers offer it only over TLS or after STARTTLS." : "";
        throw new MailSendError("auth_failed", `${where} does not offer to log in (no AUTH in its EHLO reply).${hint}`, { retry: true });
      }
      const credential = await settings.credentials.get().catch((err: unknown) => {
        throw credentialError(err, settings);
      });
      try {
        await whileOpen(connection, (done) => connection.login(loginData(settings.login, credential), (err) => done(err ?? undefined)));
      } catch (err) {
        if (smtpSendError(err, settings).code === "auth_failed") settings.credentials.refused();
        throw err;
      }
      return { value: true, message: `Logged in as ${settings.login}.` };
    });
    connection.quit();
    return steps.steps;
  } finally {
    connection.close();
  }
}

/** Runs one step of an SMTPConnection, which may end in its callback, an 'error' or the connection ending. */
function whileOpen(connection: SMTPConnection, start: (done: (err?: Error) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => finish(err);
    const onEnd = () => finish(new Error("the server closed the connection"));
    const finish = (err?: Error) => {
      connection.off("error", onError);
      connection.off("end", onEnd);
      if (err) reject(err);
      else resolve();
    };
    connection.on("error", onError);
    connection.once("end", onEnd);
    start(finish);
  });
}

function loginData(login: string, credential: Credential): SMTPConnectionAuth {
  if (credential.method === "password") return { credentials: { user: login, pass: credential.password } };
  return { user: login, method: "XOAUTH2", oauth2: new XOAuth2({ user: login, accessToken: credential.accessToken }) };
}

const sourceCodes: Record<SendErrorCode, SourceErrorCode> = {
  auth_failed: "auth_failed",
  connection_failed: "connection_refused",
  dns_error: "dns_error",
  timeout: "timeout",
  tls_error: "tls_error",
  temporary: "protocol_error",
  rejected: "protocol_error",
  invalid_message: "protocol_error",
  protocol_error: "protocol_error",
  closed: "closed",
};

/** TestSteps records MailSourceErrors; only the words matter in a test step. */
function asSourceError(err: MailSendError): MailSourceError {
  return new MailSourceError(sourceCodes[err.code], err.message, err.serverText, { cause: err });
}
