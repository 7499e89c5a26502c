/**
 * What a mailbox protocol (IMAP, POP3, later Graph and EWS) offers the rest of Mailroom.
 * Nothing outside src/connectors imports imapflow or a POP3 client: they stay behind this.
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
  | "closed";

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

export interface SourceMessage {
  /** unique within the mailbox for as long as the message exists there: IMAP `uidvalidity:uid`, POP3 UIDL */
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

/** Where an IMAP source stands in a folder; stored with each committed batch, in the same transaction. */
export interface FolderCursor {
  folder: string;
  uidValidity: string;
  lastUid: number;
}

/** What the runner gives a source for one sync: the store side of "commit, then acknowledge". */
export interface SyncContext {
  /** messages larger than this are fetched as headers only (`truncated: true`) */
  maxMessageBytes: number;
  signal: AbortSignal;
  /** the cursor committed for the folder, or null on the first sync */
  loadCursor(folder: string): Promise<FolderCursor | null>;
  /** of these source keys, the ones already stored (committed) for this mailbox */
  knownKeys(sourceKeys: string[]): Promise<Set<string>>;
  /** stored source keys whose acknowledgement at the server is not yet confirmed (a crash came between) */
  unackedKeys(): Promise<string[]>;
  /**
   * Stores the batch (and the cursor, when given) in one transaction and resolves after COMMIT.
   * Storing a key that is already stored is a no-op. After this resolves the source may acknowledge.
   */
  commit(batch: SourceMessage[], cursor?: FolderCursor): Promise<void>;
  /**
   * Optional: hands over a fetched batch that commit() will get later (the same array), so the work on
   * it that needs no transaction (parsing) can start while an earlier batch is still being stored.
   * Stores and acknowledges nothing.
   */
  prepare?(batch: SourceMessage[]): void;
  /** records that the server confirmed the acknowledgement of these keys */
  markAcked(sourceKeys: string[]): Promise<void>;
}

export interface SyncReport {
  /** messages handed to commit() in this sync */
  fetched: number;
  /** keys acknowledged at the server in this sync (new and left over) */
  acked: number;
}

export interface TestStep {
  step: "connect" | "authenticate" | "open_folder" | "acquire_token";
  ok: boolean;
  ms: number;
  message?: string;
}

export interface MailSource {
  readonly protocol: MailProtocol;
  /**
   * Connects when not connected, takes every message the mailbox holds that Mailroom has not stored,
   * hands it to ctx.commit in batches, then acknowledges it (IMAP \Seen or move, POP3 DELE).
   * Throws MailSourceError; the connection is then unusable and the runner closes it.
   */
  sync(ctx: SyncContext): Promise<SyncReport>;
  /**
   * Resolves "changed" as soon as the server reports new mail (IMAP IDLE), or "timeout" after timeoutMs
   * (POP3 always waits the full time), or "aborted" when the signal fires. Throws MailSourceError when
   * the connection breaks or goes silent.
   */
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted">;
  close(): Promise<void>;
}

/** What a connector needs to reach a mailbox; built from the mailbox row with secrets opened. */
export interface MailSourceSettings {
  mailboxId: string;
  host: string;
  port: number;
  security: "tls" | "starttls" | "none";
  login: string;
  /** a password, or an OAuth access token with `method: "xoauth2"` */
  credential: { method: "password"; password: string } | { method: "xoauth2"; accessToken: string };
  /** IMAP folder to read; "INBOX" by default */
  folder: string;
  /** IMAP: what acknowledging means; POP3: "delete" or "keep" (remember UIDLs, leave on server) */
  acknowledge: { mode: "seen" } | { mode: "move"; folder: string } | { mode: "delete" } | { mode: "keep" };
  /** first sync of a mailbox: import everything in the folder, or only messages without \Seen */
  initialImport: "all" | "unseen";
  /** socket-level timeouts */
  connectTimeoutMs: number;
  /** TLS: accept self-signed certificates (tests, private servers) */
  allowInvalidCertificates: boolean;
}

/** Builds a MailSource for one mailbox; the runner owns it and calls close(). */
export type MailSourceFactory = (protocol: MailProtocol, settings: MailSourceSettings) => MailSource;

/** Runs the connection test of POST /api/v1/mailboxes/:id/test; never changes mail. */
export type MailSourceTester = (protocol: MailProtocol, settings: MailSourceSettings) => Promise<TestStep[]>;
