/** Timestamps are ISO-8601 UTC text and booleans are 0/1 in both dialects, so rows read the same everywhere. */
export type Iso = string;
export type Flag = number;

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  role: "admin" | "supervisor" | "agent";
  display_name: string | null;
  /** a disabled user cannot sign in and has no sessions */
  disabled: Flag;
  last_login_at: Iso | null;
  /** takes work now: interactions are offered to the user up to `capacity` */
  available: Flag;
  /** the most interactions the user holds at once before no more are offered */
  capacity: number;
  created_at: Iso;
  updated_at: Iso;
}

export interface SessionsTable {
  token_hash: string;
  user_id: string;
  created_at: Iso;
  expires_at: Iso;
  /** JSON: the From addresses the agent may use, fixed at sign-in. */
  from_addresses: string;
}

export interface QueuesTable {
  id: string;
  name: string;
  created_at: Iso;
}

export interface MailboxesTable {
  id: string;
  name: string;
  client_type: "inbound" | "outbound";
  type: "IMAP" | "POP3" | "SMTP" | "GRAPH" | "EWS";
  login: string;
  host: string;
  port: number;
  security: "tls" | "starttls" | "none";
  max_size_mb: number | null;
  from_address: string | null;
  from_address_folder_id: string | null;
  auth_method: "password" | "oauth2";
  oauth_grant: "client_credentials" | "password" | null;
  oauth_client_id: string | null;
  oauth_directory_id: string | null;
  oauth_tenant_authority: string | null;
  oauth_secret_expires_at: Iso | null;
  password_sealed: string | null;
  client_secret_sealed: string | null;
  test_mailbox: Flag;
  /** JSON of MailboxOptions (folder, acknowledge mode, import mode). */
  options: string;
  /**
   * JSON {method: "password", destination, at} when the OAuth migration assistant moved the mailbox from its
   * password: where the kept password went then (see passwordDestination), so a revert knows it may reuse it.
   */
  oauth_migrated_from: string | null;
  created_at: Iso;
  updated_at: Iso;
}

export interface MailboxStatusTable {
  mailbox_id: string;
  state: "disabled" | "connecting" | "ok" | "error";
  code: string | null;
  message: string | null;
  last_sync_at: Iso | null;
  updated_at: Iso;
  /** the node whose runner wrote it: the mailbox's owner */
  node_id: string | null;
}

export interface ApplicationsTable {
  id: string;
  name: string;
  enabled: Flag;
  queue_id: string;
  auto_ack_enabled: Flag;
  auto_ack_subject: string | null;
  auto_ack_text: string | null;
  created_at: Iso;
  updated_at: Iso;
}

export interface ApplicationMailboxesTable {
  application_id: string;
  mailbox_id: string;
}

export interface AttributeFoldersTable {
  id: string;
  name: string;
  created_at: Iso;
}

export interface AttributeValuesTable {
  id: string;
  folder_id: string;
  name: string;
  display_name: string;
  created_at: Iso;
}

export interface AuditLogTable {
  id: string;
  at: Iso;
  actor_id: string | null;
  actor_name: string;
  action: string;
  target_type: string;
  target_id: string | null;
  changes: string;
}

export interface BlobsTable {
  id: string;
  data: Buffer;
  size: number;
}

/** Where a connector stands in a maildrop: its own opaque text (IMAP: UIDVALIDITY and last UID). */
export interface SourceCursorsTable {
  mailbox_id: string;
  maildrop: string;
  cursor: string;
  updated_at: Iso;
}

export interface MailboxWarningsTable {
  id: string;
  mailbox_id: string;
  code: string;
  message: string;
  at: Iso;
}

/** One email, in or out: what it said, its raw bytes, its thread. The work on it is in `interactions`. */
export interface MessagesTable {
  id: string;
  /** the mailbox it came in through, or (out) the outbound mailbox it leaves through */
  mailbox_id: string;
  direction: "in" | "out";
  /** the Message-ID header, without angle brackets */
  internet_message_id: string | null;
  subject: string;
  from_address: string;
  from_name: string;
  to_json: string;
  cc_json: string;
  reply_to_json: string;
  received_at: Iso;
  thread_id: string;
  size_bytes: number;
  flag_auto_reply: Flag;
  flag_bounce: Flag;
  flag_loop: Flag;
  wrapped: "oversize" | "unparsable" | "empty" | "unstorable" | null;
  /** unique per mailbox: `m:<content hash>` for mail with a Message-ID (a redelivery is the same), else `u:<id>` */
  dedup_key: string;
  /** the message's bytes hashed apart from trace headers; null only until filled in for rows from before it existed */
  content_hash: string | null;
  raw_blob_id: string;
  /** the node whose transaction stored it (inbound); null for outbound and rows from before nodes */
  node_id: string | null;
  text: string;
  html: string | null;
  created_at: Iso;
}

export type InteractionState = "queued" | "assigned" | "done";

/** A piece of work on a message: where it waits, who holds it. */
export interface InteractionsTable {
  id: string;
  message_id: string;
  mailbox_id: string;
  thread_id: string;
  queue_id: string | null;
  agent_id: string | null;
  state: InteractionState;
  /** incremented by every change of queue, agent or state */
  version: number;
  /** the route that made it, "" for the application's queue; unique per message */
  route_key: string;
  created_at: Iso;
  updated_at: Iso;
}

export interface InteractionHistoryTable {
  id: string;
  interaction_id: string;
  at: Iso;
  /** null: Mailroom itself */
  actor_id: string | null;
  action: string;
  /** JSON */
  detail: string;
}

/**
 * What Mailroom knows of each message of a maildrop: stored (with its message and whether the server
 * acknowledged it), set aside (`skipped`: the server would not hand it over), or `failing` (tried, not
 * stored yet). A key is live until its message is gone from a server that may reuse keys (`retired`).
 */
export interface SourceKeysTable {
  id: string;
  mailbox_id: string;
  maildrop: string;
  source_key: string;
  /** the key, or its hash when long: what the unique index holds */
  lookup_key: string;
  epoch: string;
  state: "stored" | "skipped" | "failing";
  message_id: string | null;
  ack: "pending" | "done" | "refused";
  retired: Flag;
  size: number;
  /** only the header block was fetched and stored */
  truncated: Flag;
  attempts: number;
  reason: string | null;
  created_at: Iso;
  updated_at: Iso;
}

export interface AttachmentsTable {
  id: string;
  message_id: string;
  position: number;
  filename: string;
  content_type: string;
  size: number;
  inline: Flag;
  content_id: string | null;
  blob_id: string;
}

/** A Message-ID Mailroom has stored, the thread it is in and the message that brought it. */
export interface ThreadRefsTable {
  /** bounded as ingest.store's threadKey makes it */
  internet_message_id: string;
  thread_id: string;
  message_id: string;
}


/** An inbound route: mail to an address or a domain goes to a queue. */
export interface RoutesTable {
  id: string;
  /** lower case: `support@acme.test` or `@acme.test` */
  pattern: string;
  queue_id: string;
  /** the lowest number wins */
  priority: number;
  created_at: Iso;
  updated_at: Iso;
}

export interface QueueAgentsTable {
  queue_id: string;
  user_id: string;
}

/** Application-wide settings, JSON values by name. */
export interface SettingsTable {
  name: string;
  value: string;
  updated_at: Iso;
}

export type OutboxKind = "reply" | "replyAll" | "forward" | "new" | "autoAck";
export type OutboxState = "queued" | "sending" | "sent" | "failed";

/** An email to send, and how its sending goes. */
export interface OutboxTable {
  id: string;
  kind: OutboxKind;
  /** the outbound message; null for an auto-acknowledgement until it is composed */
  message_id: string | null;
  interaction_id: string | null;
  state: OutboxState;
  attempts: number;
  next_attempt_at: Iso;
  claimed_until: Iso | null;
  claim_token: string | null;
  /** JSON {from, to[]}; null until composed */
  envelope: string | null;
  /** JSON: what an auto-acknowledgement is composed from */
  compose: string | null;
  /** lower case: the customer an auto-acknowledgement goes to */
  recipient: string | null;
  last_error: string | null;
  last_response: string | null;
  created_by: string | null;
  created_at: Iso;
  updated_at: Iso;
  sent_at: Iso | null;
}

/** One dry run of OAuth 2.0 settings against a mailbox (the migration assistant): what was tried and how it went. */
export interface OAuthVerificationsTable {
  id: string;
  mailbox_id: string;
  oauth_grant: "client_credentials" | "password";
  client_id: string;
  directory_id: string;
  tenant_authority: string;
  ok: Flag;
  /** JSON: the steps as the connection test reports them */
  steps: string;
  verified_at: Iso;
  /** whether the mailbox was a test mailbox then: only those open the way for migrating others */
  test_mailbox: Flag;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  queues: QueuesTable;
  mailboxes: MailboxesTable;
  mailbox_status: MailboxStatusTable;
  applications: ApplicationsTable;
  application_mailboxes: ApplicationMailboxesTable;
  attribute_folders: AttributeFoldersTable;
  attribute_values: AttributeValuesTable;
  audit_log: AuditLogTable;
  blobs: BlobsTable;
  source_cursors: SourceCursorsTable;
  mailbox_warnings: MailboxWarningsTable;
  messages: MessagesTable;
  interactions: InteractionsTable;
  interaction_history: InteractionHistoryTable;
  source_keys: SourceKeysTable;
  attachments: AttachmentsTable;
  thread_refs: ThreadRefsTable;
  routes: RoutesTable;
  queue_agents: QueueAgentsTable;
  settings: SettingsTable;
  outbox: OutboxTable;
  oauth_verifications: OAuthVerificationsTable;
  nodes: NodesTable;
  mailbox_leases: MailboxLeasesTable;
  rate_limit_hits: RateLimitHitsTable;
}

/** A Mailroom process on the database; times in ms on the database's clock. */
export interface NodesTable {
  id: string;
  name: string;
  started_ms: number;
  heartbeat_ms: number;
}

/** The node that runs a mailbox, until `expires_ms` unless renewed; the token fences its writes. */
export interface MailboxLeasesTable {
  mailbox_id: string;
  node_id: string;
  token: number;
  acquired_ms: number;
  expires_ms: number;
}

/** Sign-in attempts per client in the current window, shared by every node. */
export interface RateLimitHitsTable {
  key: string;
  window_ends_ms: number;
  hits: number;
}
