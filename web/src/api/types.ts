// The shapes of the API that several pages share (see shared/api.md and the server's zod schemas in
// src/features/*/*.schema.ts). Types only one page uses live beside that page.

export type Role = "admin" | "supervisor" | "agent";

export interface Me {
  id: string;
  username: string;
  role: Role;
}

export type ClientType = "inbound" | "outbound";
export type MailboxType = "IMAP" | "POP3" | "SMTP" | "GRAPH" | "EWS";
export type Security = "tls" | "starttls" | "none";
export type MailboxState = "disabled" | "connecting" | "ok" | "error";
export type OAuthGrant = "client_credentials" | "password";

export interface MailboxWarning {
  code: string;
  message: string;
  at: string;
}

export interface MailboxStatus {
  state: MailboxState;
  code?: string;
  message?: string;
  lastSyncAt?: string;
  /** the Mailroom node that runs the mailbox, and its name while it runs */
  nodeId?: string;
  nodeName?: string;
  warnings: MailboxWarning[];
}

export type MailboxAuth =
  | { method: "password" }
  | {
      method: "oauth2";
      grant: OAuthGrant;
      clientId: string;
      directoryId: string;
      tenantAuthority: string;
      secretExpiresAt?: string;
      secretExpiry?: { state: "ok" | "expiring" | "expired"; daysLeft: number };
    };

export interface MailboxOptions {
  folder?: string;
  acknowledge?: "seen" | "move" | "delete" | "keep";
  processedFolder?: string;
  initialImport: "all" | "unseen";
}

export interface Mailbox {
  id: string;
  name: string;
  clientType: ClientType;
  type: MailboxType;
  mailbox: string;
  host: string;
  port: number;
  security: Security;
  maxSizeMb: number | null;
  fromAddress: string | null;
  fromAddressFolderId: string | null;
  options?: MailboxOptions;
  auth: MailboxAuth;
  passwordSet: boolean;
  clientSecretSet: boolean;
  testMailbox: boolean;
  oauthMigration?: { migratedAt: string; canRevertWithoutPassword: boolean };
  enabled: boolean;
  status: MailboxStatus;
  createdAt: string;
  updatedAt: string;
}

/** What supervisors see of a mailbox (GET /api/v1/mailboxes/health): whether mail flows, and why not. */
export interface MailboxHealth {
  id: string;
  name: string;
  clientType: ClientType;
  type: MailboxType;
  enabled: boolean;
  status: MailboxStatus;
  secretExpiry: { state: "ok" | "expiring" | "expired"; daysLeft: number } | null;
}

export interface TestStep {
  step: string;
  ok: boolean;
  ms: number;
  message?: string;
}

export interface TestResult {
  ok: boolean;
  steps: TestStep[];
}

export interface Queue {
  id: string;
  name: string;
}

export interface QueueStats {
  queueId: string;
  name: string;
  waiting: number;
  assigned: number;
  oldestWaitingSince: string | null;
  oldestWaitingSeconds: number | null;
}

export interface Address {
  address: string;
  name: string;
}

/**
 * What `/api/v1/events` sends (src/shared/event-bus.ts), plus `reconnected` when the stream came back
 * after a gap. An agent gets no mailbox events, and of the others the type and ids only.
 */
export type MailroomEvent =
  | { type: "interaction.created"; mailboxId?: string; interactionIds: string[] }
  | { type: "interaction.updated"; interactionId: string; state?: string; queueId?: string | null; agentId?: string | null; action?: string }
  | { type: "outbound.updated"; outboundId: string; interactionId: string | null; state?: string }
  | { type: "mailbox.status"; mailboxId: string; state: string; code: string | null; message: string | null }
  | { type: "mailboxes.changed" }
  | { type: "reconnected" };

export type List<T> = { items: T[] };
