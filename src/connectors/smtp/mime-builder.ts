/**
 * Turns a message that src/outbound has already decided on, field by field, into RFC 5322 bytes
 * with nodemailer's MailComposer, so that nodemailer stays behind src/connectors (mail-sender.ts).
 * Nothing here chooses content: no recipient, subject or id is computed, no clock or random source
 * is read (the Date, the Message-ID and the boundary seed all come in).
 */

import MailComposer from "nodemailer/lib/mail-composer";
import type { MailComposerAttachment } from "nodemailer/lib/mail-composer";
import type { Address } from "../../shared/email-address.js";

export interface MimeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface MimeMessage {
  from: Address;
  to: Address[];
  cc: Address[];
  subject: string;
  /** without angle brackets */
  messageId: string;
  date: Date;
  /** without angle brackets */
  inReplyTo: string | null;
  /** without angle brackets, oldest first */
  references: string[];
  /** further header fields, e.g. Auto-Submitted; names and values must already be safe one-liners */
  headers: Record<string, string>;
  text: string;
  html: string | null;
  attachments: MimeAttachment[];
  /**
   * Makes the multipart boundaries unguessable (quoted customer text must not be able to contain
   * one) without this module drawing randomness of its own. Letters and digits are kept.
   */
  boundarySeed: string;
}

/**
 * The message in CRLF line endings, Bcc-free: Bcc recipients belong in the SMTP envelope only,
 * so they are never given to the composer.
 */
export async function buildMime(message: MimeMessage): Promise<Buffer> {
  const composer = new MailComposer({
    from: message.from,
    to: message.to,
    cc: message.cc,
    subject: message.subject,
    messageId: `<${message.messageId}>`,
    date: message.date,
    ...(message.inReplyTo === null ? {} : { inReplyTo: `<${message.inReplyTo}>` }),
    ...(message.references.length === 0 ? {} : { references: message.references.map((id) => `<${id}>`) }),
    headers: message.headers,
    text: message.text,
    ...(message.html === null ? {} : { html: message.html }),
    attachments: message.attachments.map(attachmentPart),
    baseBoundary: message.boundarySeed.replace(/[^A-Za-z0-9]/g, "") || "0",
    // SMTP carries CRLF only (mail-sender.ts sends raw byte for byte)
    newline: "\r\n",
    // every content is in memory; a value that looks like a path or a URL must never be read
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile().build();
}

/**
 * Base64 keeps an attachment's bytes exact whatever they hold. A message/* part may not be
 * encoded at all (RFC 2046 5.2.1), so an attached email goes as 7bit when it is plain ASCII with
 * lines SMTP can carry; any other attached email (8-bit text, over-long lines: untrusted bytes)
 * goes as application/octet-stream in base64 under its own file name, which mail clients still open.
 */
function attachmentPart(attachment: MimeAttachment): MailComposerAttachment {
  const common = { filename: attachment.filename, content: attachment.content, contentDisposition: "attachment" };
  if (/^message\//i.test(attachment.contentType)) {
    return fitsSevenBit(attachment.content)
      ? { ...common, contentType: attachment.contentType, contentTransferEncoding: "7bit" }
      : { ...common, contentType: "application/octet-stream", contentTransferEncoding: "base64" };
  }
  return { ...common, contentType: attachment.contentType, contentTransferEncoding: "base64" };
}

/** ASCII without NUL and no line over RFC 5322's 998 octets */
function fitsSevenBit(content: Buffer): boolean {
  let lineLength = 0;
  for (const byte of content) {
    if (byte === 0 || byte > 0x7f) return false;
    if (byte === 0x0a || byte === 0x0d) lineLength = 0;
    else if (++lineLength > 998) return false;
  }
  return true;
}
