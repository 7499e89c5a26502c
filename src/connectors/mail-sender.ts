/**
 * What an outbound protocol (SMTP now, Graph and EWS later) offers the rest of Mailroom: hand over one
 * finished message and learn whether the server took it. Composing the message, the outbox and its
 * retries live elsewhere; nothing outside src/connectors imports nodemailer.
 */

import type { MailSourceError, TestStep } from "./mail-source.js";

export interface OutboundMessage {
  /**
   * The complete RFC 5322 message, sent byte for byte: nothing is added (no Message-ID, no Date).
   * Lines end in CRLF; SMTP cannot carry a bare CR or LF, the transport turns one into CRLF.
   */
  raw: Buffer;
  /** Bcc recipients are only here, never in `raw`. An empty `from` sends the null sender (MAIL FROM:<>). */
  envelope: { from: string; to: string[] };
}

export interface SendReceipt {
  /** the server's final reply, e.g. "250 2.0.0 Ok: queued as 4F1C2" */
  response: string;
  accepted: string[];
  /**
   * Recipients the server refused while it took the message for the others. A 4xx reply here is a
   * deferral: sending to that address again later may work.
   */
  rejected: { address: string; reply: string }[];
}

/** How a send failed; stable for the API and metrics. */
export type SendErrorCode =
  | "auth_failed"
  | "connection_failed"
  | "dns_error"
  | "timeout"
  | "tls_error"
  /** a 4xx reply: the server asks to be tried again later */
  | "temporary"
  /** a 5xx reply to MAIL FROM, RCPT TO or DATA: this message will not be taken as it is */
  | "rejected"
  /** the message or its envelope cannot be sent at all (no recipient, too large for the server) */
  | "invalid_message"
  | "protocol_error"
  /** the sender was closed */
  | "closed";

/** Thrown by MailSender.send, and only this. */
export class MailSendError extends Error {
  readonly code: SendErrorCode;
  /**
   * True: the message may go through if sent again later (4xx replies, network trouble, a refused
   * login, which a corrected password or a fresh token mends). False: sending it again gets the same no.
   */
  readonly retry: boolean;
  /** the server's own reply, e.g. "451 4.3.0 Try again later"; undefined when it said nothing */
  readonly serverText: string | undefined;
  /** the SMTP reply code of serverText */
  readonly responseCode: number | undefined;

  constructor(
    code: SendErrorCode,
    message: string,
    details: { retry: boolean; serverText?: string | undefined; responseCode?: number | undefined; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "MailSendError";
    this.code = code;
    this.retry = details.retry;
    this.serverText = details.serverText;
    this.responseCode = details.responseCode;
  }
}

export interface MailSender {
  /** Throws MailSendError only. Sends may run concurrently; the sender spreads them over its connections. */
  send(message: OutboundMessage): Promise<SendReceipt>;
  /** Lets the sends under way finish, then closes every connection; a later send throws ("closed"). */
  close(): Promise<void>;
}

/** The connection test of an outbound mailbox (connect, authenticate); sends nothing. */
export type MailSenderTester<Settings> = (settings: Settings) => Promise<TestStep[]>;

/** The addresses named in the To and Cc headers of `raw`, lower case. */
function headerRecipients(raw: Buffer): Set<string> {
  const end = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, end === -1 ? raw.length : end).toString("latin1").replace(/\r\n[ \t]+/g, " ");
  const found = new Set<string>();
  for (const line of head.split("\r\n")) {
    if (!/^(to|cc):/i.test(line)) continue;
    for (const m of line.matchAll(/[^\s<>,;:"]+@[^\s<>,;"]+/g)) found.add(m[0].toLowerCase());
  }
  return found;
}

/**
 * The message with a Bcc header naming the envelope recipients its To and Cc headers do not: for the
 * APIs (Graph, EWS) that take recipients from the headers, and remove Bcc on delivery.
 */
export function withBcc(raw: Buffer, recipients: string[]): Buffer {
  const named = headerRecipients(raw);
  const bcc = recipients.filter((r) => !named.has(r.toLowerCase()));
  return bcc.length === 0 ? raw : Buffer.concat([Buffer.from(`Bcc: ${bcc.join(", ")}\r\n`, "latin1"), raw]);
}

/**
 * A send through an HTTP API (Graph, EWS) that failed before the server took the message: connection
 * trouble, throttling, a refused token or login. Sending again may work once it passes or is mended.
 */
export function sendErrorOf(err: MailSourceError): MailSendError {
  const details = { retry: true, serverText: err.serverText, cause: err };
  switch (err.code) {
    case "throttled":
    case "protocol_error":
      return new MailSendError("temporary", err.message, details);
    case "dns_error":
      return new MailSendError("dns_error", err.message, details);
    case "tls_error":
      return new MailSendError("tls_error", err.message, details);
    case "timeout":
      return new MailSendError("timeout", err.message, details);
    case "connection_refused":
      return new MailSendError("connection_failed", err.message, details);
    default:
      // a refused login or token (an expired secret, consent missing): sending again works once the mailbox is mended
      return new MailSendError("auth_failed", err.message, details);
  }
}

/**
 * The bookkeeping of a sender over an HTTP API (Graph, EWS): no send after close() and none without a
 * recipient, and close() waits for the sends under way.
 */
export class SendsInFlight {
  #closed = false;
  readonly #sends = new Set<Promise<unknown>>();

  constructor(private readonly api: string) {}

  /** Starts `send`, or throws MailSendError at once when the sender is closed or the message has no recipient. */
  start<T>(message: OutboundMessage, send: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new MailSendError("closed", `The ${this.api} sender is closed.`, { retry: true });
    if (message.envelope.to.length === 0) throw new MailSendError("invalid_message", "The message has no recipient.", { retry: false });
    const sending = send();
    this.#sends.add(sending);
    const done = () => this.#sends.delete(sending);
    sending.then(done, done);
    return sending;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sends]);
  }
}
