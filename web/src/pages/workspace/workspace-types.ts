// The API's shapes only the workspace uses (src/features/interactions/interactions.schema.ts,
// src/features/outbox/outbox.schema.ts, src/features/from-addresses).
import type { Address } from "../../api/types";

export type InteractionState = "queued" | "assigned" | "done";

export interface Attachment {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  inline: boolean;
}

export interface MailFlags {
  autoReply: boolean;
  bounce: boolean;
  loop: boolean;
  wrapped: null | "oversize" | "unparsable" | "empty" | "unstorable";
}

interface EmailFields {
  mailboxId: string;
  messageId: string | null;
  subject: string;
  /** null when the message has no From; a From with only a display name has address "" */
  from: Address | null;
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  receivedAt: string;
  threadId: string;
  sizeBytes: number;
  flags: MailFlags;
  attachments: Attachment[];
}

export interface Interaction extends EmailFields {
  id: string;
  queueId: string | null;
  agentId: string | null;
  state: InteractionState;
}

/** One email of the thread, in or out. */
export interface ThreadMessage extends EmailFields {
  id: string;
  direction: "in" | "out";
  interactionIds: string[];
}

export interface InteractionDetail extends Interaction {
  text: string;
  /** sanitized by the server; shown only through MailBody */
  html: string | null;
  messages: ThreadMessage[];
}

export interface HistoryEntry {
  at: string;
  /** null: Mailroom itself (routing, offering) */
  actor: { id: string; username: string } | null;
  action: string;
  detail: Record<string, unknown>;
}

export interface InteractionPage {
  items: Interaction[];
  nextCursor: string | null;
}

export interface FromAddress {
  address: string;
  displayName: string;
}

export type OutboundState = "queued" | "sending" | "sent" | "failed";

export interface Outbound {
  id: string;
  state: OutboundState;
  attempts: number;
  lastError: string | null;
  lastResponse: string | null;
  messageId: string | null;
  interactionId: string | null;
  nextAttemptAt: string | null;
  sentAt: string | null;
}

/** What the agent is writing: an answer to the open interaction, or a new email. */
export type ComposeKind = "reply" | "replyAll" | "forward" | "new";

/** An email the agent sent from this page, followed until it is sent or has failed. */
export interface SentEmail {
  outboundId: string;
  kind: ComposeKind;
  to: string;
}

export interface UserSummary {
  id: string;
  username: string;
  role: string;
  displayName: string | null;
  disabled: boolean;
  available: boolean;
  capacity: number;
}
