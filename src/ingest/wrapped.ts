import type { Address, ParsedAttachment, ParsedMail, WrappedReason } from "./types.js";

/**
 * Mail Mailroom cannot import as it is still becomes an interaction (design invariant 2): a "wrapped"
 * one whose text says in words what happened, with the original kept as an attachment where there
 * is something to keep.
 */

const megabyte = 1024 * 1024;

/** "7.5 MB", "20 MB": one decimal at most, so the two sizes in a sentence compare at a glance. */
export function formatMegabytes(bytes: number): string {
  const value = Math.round((bytes / megabyte) * 10) / 10;
  return `${value === 0 && bytes > 0 ? 0.1 : value} MB`;
}

export function oversizeText(size: number, maxSizeBytes: number, truncated: boolean): string {
  const kept = truncated ? "only its headers were fetched and kept" : "only its headers were kept";
  return (
    `This message was ${formatMegabytes(size)}, larger than this mailbox's Max size of ${formatMegabytes(maxSizeBytes)}, ` +
    `so it was not imported in full: ${kept}. The original headers are attached as original-headers.txt. ` +
    "Ask the sender to send smaller messages, or raise the mailbox's Max size."
  );
}

export type EmptyKind = "zero-bytes" | "blank" | "no-content";

export function emptyText(kind: EmptyKind, size: number): string {
  switch (kind) {
    case "zero-bytes":
      return "The mail server delivered an empty message (0 bytes). There was nothing to import.";
    case "blank":
      return `The mail server delivered a message that contains only blank space (${size} bytes), no headers and no content. It is attached as original.eml.`;
    case "no-content":
      return "This message has no sender, no recipients, no subject and no content. The original is attached as original.eml.";
  }
}

export function unparsableText(reason: string, size: number): string {
  return `This message could not be read as an email: ${reason}. The original (${size} bytes) is attached as original.eml.`;
}

export function originalAttachment(raw: Buffer, filename: "original.eml" | "original-headers.txt"): ParsedAttachment {
  return {
    filename,
    contentType: filename === "original.eml" ? "message/rfc822" : "text/plain",
    size: raw.length,
    inline: false,
    contentId: null,
    content: raw,
  };
}

export interface WrappedFields {
  reason: WrappedReason;
  text: string;
  attachments: ParsedAttachment[];
  contentHash: string;
  messageId?: string | null;
  inReplyTo?: string[];
  references?: string[];
  subject?: string;
  from?: Address;
  to?: Address[];
  cc?: Address[];
  replyTo?: Address[];
  deliveredTo?: string[];
  date?: Date | null;
  autoReply?: boolean;
  bounce?: boolean;
  loop?: boolean;
}

export function wrappedMail(fields: WrappedFields): ParsedMail {
  return {
    messageId: fields.messageId ?? null,
    inReplyTo: fields.inReplyTo ?? [],
    references: fields.references ?? [],
    subject: fields.subject ?? "",
    from: fields.from ?? { address: "", name: "" },
    to: fields.to ?? [],
    cc: fields.cc ?? [],
    replyTo: fields.replyTo ?? [],
    deliveredTo: fields.deliveredTo ?? [],
    date: fields.date ?? null,
    text: fields.text,
    html: null,
    attachments: fields.attachments,
    flags: {
      autoReply: fields.autoReply ?? false,
      bounce: fields.bounce ?? false,
      loop: fields.loop ?? false,
      wrapped: fields.reason,
    },
    contentHash: fields.contentHash,
  };
}
