/**
 * What a mailbox protocol (IMAP, POP3, later Graph and EWS) offers the rest of Mailroom: the seam that
 * every connector implements. A connector owns its protocol, its cursor (an opaque string) and how it
 * waits for news; the loop "fetch, commit, then acknowledge" and the repair after a crash are written
 * once, in src/runners/mailbox-sync.ts, for all of them. Nothing outside src/connectors imports imapflow
 * or a POP3 client: they stay behind this.
 */

export type MailProtocol = "IMAP" | "POP3" | "GRAPH" | "EWS";

/** How a source failed, in words an administrator can act on; `code` is stable for the API and metrics. */
export type SourceErrorCode =
  | "auth_failed"
  | "tls_error"
  | "connection_refused"
  | "dns_error"
  | "timeout"
  | "folder_missing"
  | "protocol_error"
  | "throttled"
  | "closed"
  // OAuth 2.0: what the sign-in service (Entra ID) answered instead of an access token
  | "secret_expired"
  | "invalid_client"
  | "unauthorized_client"
  | "tenant_not_found"
  | "consent_required"
  | "mfa_required"
  | "user_locked"
  | "invalid_credentials"
  | "invalid_scope"
  | "token_unavailable"
  | "token_error";

/** The connection (or the login) failed: the session is unusable and the runner retries with backoff. */
export class MailSourceError extends Error {
  readonly code: SourceErrorCode;
  /** the server's own words, where it said any (e.g. "[AUTHENTICATIONFAILED] Authentication failed.") */
  readonly serverText: string | undefined;

  constructor(code: SourceErrorCode, message: string, serverText?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MailSourceError";
    this.code = code;
    this.serverText = serverText;
  }
}

/**
 * The server refused to hand over these messages (IMAP FETCH answered NO, POP3 RETR answered -ERR) while
 * the session stays usable. The sync tries them again one by one and sets aside what keeps failing.
 */
export class MessageRefusedError extends Error {
  readonly keys: string[];
  readonly serverText: string | undefined;

  constructor(keys: string[], message: string, serverText?: string) {
    super(message);
    this.name = "MessageRefusedError";
    this.keys = keys;
    this.serverText = serverText;
  }
}

/**
 * `appOnly`: the token is an application's (client credentials), which acts on no mailbox of its own:
 * EWS then names the mailbox in an ExchangeImpersonation header.
 */
export type Credential = { method: "password"; password: string } | { method: "xoauth2"; accessToken: string; appOnly?: boolean };

/**
 * Where a connector gets the secret it logs in with, each time it logs in: a password does not change,
 * an OAuth 2.0 access token expires and is fetched again on demand.
 */
export interface CredentialProvider {
  get(): Promise<Credential>;
  /** the server refused the last credential get() gave: the next get() must not answer from a cache */
  refused(): void;
}

export function fixedCredential(credential: Credential): CredentialProvider {
  return { get: () => Promise.resolve(credential), refused: () => undefined };
}

export interface SourceMessage {
  /**
   * Unique among the messages the maildrop holds now: IMAP `uidvalidity:uid`, POP3 UIDL. Keys are stored
   * per maildrop, so a key only has to be unique within one.
   */
  sourceKey: string;
  /**
   * The message as the server holds it, byte for byte. When `truncated` is true the message was larger
   * than the mailbox's Max size and only its header block was fetched.
   */
  raw: Buffer;
  /** the size the server reports for the whole message, in bytes */
  size: number;
  truncated: boolean;
  /** IMAP INTERNALDATE; null where the protocol has none (POP3) */
  receivedAt: Date | null;
}

/** What one session lists: the candidates of this sync, oldest first, and where the cursor stands after each. */
export interface Listing {
  /**
   * Keys of one epoch are never given to another message while the epoch lasts (IMAP: one UIDVALIDITY);
   * "" where the protocol has no such notion.
   */
  epoch: string;
  /**
   * True when the maildrop renumbered its messages since the stored cursor (a new UIDVALIDITY): what it
   * lists may be messages already stored under their old keys, recognised by their bytes.
   */
  reread: boolean;
  /** candidate keys, in the order to take them; known ones are filtered out by the sync */
  keys: string[];
  /**
   * The cursor to store once keys[0..index] are taken (stored or set aside); index -1 means "nothing
   * taken", the cursor to store when there is nothing to take. Null where the protocol keeps none (POP3).
   */
  cursorThrough(index: number): string | null;
}

export interface FetchRequest {
  key: string;
  /** larger than the mailbox's Max size: fetch the header block only */
  headersOnly: boolean;
}

export interface AckOutcome {
  /** acknowledged at the server now; includes keys there is nothing left to do for (message gone, older epoch) */
  done: string[];
  /** sent, but only finish() confirms them (POP3 DELE takes effect with QUIT) */
  pending: string[];
  /** the server refused to acknowledge these (a read-only folder, missing rights); the messages stay as they are */
  refused: { keys: string[]; serverText: string } | null;
}

/** How a protocol's keys and acknowledgements behave; the sync's repair depends on it. */
export interface SessionTraits {
  /** the server may give a key to a new message once the old one is gone (POP3 UIDL, RFC 1939 §7) */
  keysMayBeReused: boolean;
  /** acknowledging removes the message from what the session lists (POP3 DELE, IMAP move) */
  ackRemoves: boolean;
}

/** One connected, logged-in session on the maildrop, for one sync. */
export interface MailSession {
  readonly traits: SessionTraits;
  /** the candidates since `cursor` (everything on a first sync, or by the mailbox's first-import rule) */
  list(cursor: string | null): Promise<Listing>;
  /** the server's size of each key still present; a key missing from the answer is gone */
  sizes(keys: string[]): Promise<Map<string, number>>;
  /**
   * The messages, byte for byte; a key missing from the answer is gone from the server. Throws
   * MessageRefusedError when the server refused (the session stays usable), MailSourceError when the
   * connection broke.
   */
  fetch(requests: FetchRequest[]): Promise<SourceMessage[]>;
  /** IMAP \Seen or move, POP3 DELE. Only ever called for keys whose messages are committed. */
  acknowledge(keys: string[]): Promise<AckOutcome>;
  /**
   * Ends the sync: POP3 sends QUIT, which applies the DELEs, and answers the keys it confirmed; IMAP keeps
   * its connection for IDLE and answers []. Throws when the confirmation failed (nothing is confirmed then).
   */
  finish(): Promise<string[]>;
}

export interface MailSource {
  readonly protocol: MailProtocol;
  /**
   * What identifies the maildrop this source reads (protocol, host, login, folder): stored keys and
   * cursors belong to it, so a mailbox pointed at another server or folder starts afresh there.
   */
  readonly maildrop: string;
  /** true while a logged-in connection is kept between syncs (IMAP); opening then needs no login */
  readonly connected: boolean;
  /** Connects and logs in when needed; throws MailSourceError. */
  open(): Promise<MailSession>;
  /**
   * Resolves "changed" as soon as the server reports new mail (IMAP IDLE), or "timeout" after timeoutMs
   * (POP3 always waits the full time), or "aborted" when the signal fires. Throws MailSourceError when
   * the connection breaks or goes silent.
   */
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted">;
  close(): Promise<void>;
  /**
   * What went wrong beside the mail itself since the last call (a Graph subscription Graph would not
   * create): the runner records it as a warning on the mailbox; the mail still flows.
   */
  takeWarnings?(): { code: "notifications_unavailable"; message: string }[];
}

export interface TestStep {
  step: "connect" | "authenticate" | "open_folder" | "acquire_token";
  ok: boolean;
  ms: number;
  message?: string;
}

/** What a connector needs to reach a mailbox; built from the mailbox row. */
export interface MailSourceSettings {
  mailboxId: string;
  host: string;
  port: number;
  security: "tls" | "starttls" | "none";
  login: string;
  /** a password, or an OAuth 2.0 access token fetched on demand */
  credentials: CredentialProvider;
  /** IMAP folder to read; "INBOX" by default */
  folder: string;
  /** IMAP: what acknowledging means; POP3: "delete" or "keep" (remember UIDLs, leave on server) */
  acknowledge: { mode: "seen" } | { mode: "move"; folder: string } | { mode: "delete" } | { mode: "keep" };
  /** first sync of a maildrop (and the re-read after a new UIDVALIDITY): everything, or only messages without \Seen */
  initialImport: "all" | "unseen";
  /** socket-level timeouts */
  connectTimeoutMs: number;
  /** TLS: accept self-signed certificates (tests, private servers) */
  allowInvalidCertificates: boolean;
}

/** Builds a MailSource for one mailbox; the runner owns it and calls close(). */
export type MailSourceFactory = (protocol: MailProtocol, settings: MailSourceSettings) => MailSource;

/** Runs the connection test of POST /api/v1/mailboxes/:id/test (inbound, or SMTP outbound); never changes or sends mail. */
export type MailSourceTester = (protocol: MailProtocol | "SMTP", settings: MailSourceSettings, context?: { direction: "inbound" | "outbound" }) => Promise<TestStep[]>;

/**
 * The identity of a maildrop: the same server name in any case, the same login and folder is the same
 * maildrop. Stored with every key: changing this format makes every mailbox start afresh.
 */
export function maildropId(protocol: MailProtocol, host: string, login: string, folder: string | null): string {
  const parts = [protocol.toLowerCase(), host.trim().toLowerCase(), login];
  if (folder !== null) parts.push(folder);
  return JSON.stringify(parts);
}
