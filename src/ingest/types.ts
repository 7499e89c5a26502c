import type { Fence } from "../db/fence.js";
/** What the ingest pipeline makes of one raw message; plain data, ready to store. */

import type { Address } from "../shared/email-address.js";

export type { Address };

export type WrappedReason = "oversize" | "unparsable" | "empty" | "unstorable";

export interface ParsedAttachment {
  /** safe to display and to offer as a download name: no path separators, no control characters */
  filename: string;
  contentType: string;
  size: number;
  /** true for parts referenced from the HTML by `cid:` (inline images) */
  inline: boolean;
  /** without angle brackets; null when the part has none */
  contentId: string | null;
  content: Buffer;
}

export interface ParsedMail {
  /** the Message-ID header without angle brackets, or null */
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  /** decoded, never containing CR or LF */
  subject: string;
  from: Address;
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  /** the addresses of the Delivered-To headers (where the mail system delivered it), lower case: routing reads them with To and Cc */
  deliveredTo: string[];
  /** the Date header when it parses, else null */
  date: Date | null;
  text: string;
  /** sanitized; `cid:` references left as they are for the API to rewrite */
  html: string | null;
  attachments: ParsedAttachment[];
  flags: { autoReply: boolean; bounce: boolean; loop: boolean; wrapped: WrappedReason | null };
  /**
   * The message's bytes hashed apart from trace headers (see fingerprint.ts): with the Message-ID it
   * tells a redelivery from a new message.
   */
  contentHash: string;
}

/** What the pipeline needs to know about the mailbox a message came from. */
export interface IngestContext {
  maxSizeBytes: number;
  /** addresses that are Mailroom's own (outbound From, From-address values, inbound mailbox addresses), lower case */
  ownAddresses: ReadonlySet<string>;
}

/** Where a mailbox's mail goes: the mailbox, and the queue of the application that enabled it. */
export interface InboundTarget {
  mailboxId: string;
  queueId: string | null;
  /** the node that stores (noted on each message) */
  nodeId?: string | undefined;
  /** checked first in every transaction of this mailbox: the node still holds the mailbox's lease */
  fence?: Fence | undefined;
}
