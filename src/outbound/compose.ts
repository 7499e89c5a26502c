/**
 * The email an agent sends, from the agent's action (reply, reply all, forward, new email) to the
 * finished RFC 5322 message and its SMTP envelope, ready for MailSender.send. Pure: the clock and
 * the random source come in as parameters, so the same request always gives the same bytes.
 *
 * What the agent typed is refused with a message when it cannot go into a header (a line break in
 * the subject, an address that is none); what comes from the customer's message is cleaned, since
 * the agent cannot mend it.
 */

import { isIP } from "node:net";
import { buildMime, type MimeAttachment } from "../connectors/smtp/mime-builder.js";
import { AppError } from "../errors.js";
import { cleanLine, cleanText } from "../ingest/clean-text.js";
import { isEmailAddress, isHostName, type Address } from "../shared/email-address.js";
import {
  addressKey,
  forwardHtml,
  forwardSubject,
  forwardText,
  knownNames,
  normalizeAddress,
  replyHtml,
  replyRecipients,
  replySubject,
  replyText,
  threadingOf,
  withoutDuplicates,
  type OriginalMessage,
  type Threading,
} from "./from-original.js";

export type { OriginalMessage } from "./from-original.js";

export type Attachment = MimeAttachment;

/** One of the agent's From addresses. */
export interface SenderIdentity {
  address: string;
  displayName: string;
}

/** What every message needs besides its content: who sends, and the parameters that keep this pure. */
export interface MessageContext {
  from: SenderIdentity;
  /** the right side of generated Message-IDs, e.g. "mail.example.com" */
  messageIdDomain: string;
  now: Date;
  /** called twice per message (Message-ID, MIME boundaries); letters, digits and - . _ */
  randomId: () => string;
  /** IANA zone for the dates in quotes and forward headers; UTC when not given */
  timeZone?: string;
}

interface ComposeFields extends MessageContext {
  /** bare addresses; in a reply they replace the computed To, even when empty */
  to?: string[];
  /** bare addresses; in a reply they replace the computed Cc, even when empty */
  cc?: string[];
  bcc?: string[];
  /** wins over the computed "Re:"/"Fwd:" subject unless blank */
  subject?: string;
  text: string;
  /** when given, the message has an HTML part too, with the quote as a blockquote */
  html?: string;
  attachments?: Attachment[];
  /** the company's own mailbox and From addresses, lower case: reply all never copies us */
  ownAddresses: ReadonlySet<string>;
}

export type ComposeRequest =
  | (ComposeFields & { kind: "reply" | "replyAll"; original: OriginalMessage })
  | (ComposeFields & { kind: "forward"; original: OriginalMessage; originalAttachments?: Attachment[] })
  | (ComposeFields & { kind: "new" });

export interface ComposedMessage {
  /** CRLF line endings, no Bcc header */
  raw: Buffer;
  /** to + cc + bcc, each once, domains lower-cased */
  envelope: { from: string; to: string[] };
  /** without angle brackets */
  internetMessageId: string;
  inReplyTo: string | null;
  references: string[];
  subject: string;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  /** the plain-text part as composed (quote included) */
  text: string;
}

export async function composeMessage(request: ComposeRequest): Promise<ComposedMessage> {
  const from = senderAddress(request.from);
  const original = request.kind === "new" ? null : request.original;
  const { to, cc, bcc } = recipientsOf(request, from.address);
  const subject = subjectOf(request);
  const { text, html } = bodyOf(request);
  const attachments = [...(request.attachments ?? []), ...(request.kind === "forward" ? (request.originalAttachments ?? []) : [])];

  // A forward threads like a reply: when the person it goes to answers, the answer names the
  // customer's message and so joins the customer's thread in Mailroom instead of starting a new one.
  const threading: Threading = original === null ? { inReplyTo: null, references: [] } : threadingOf(original);
  return build(request, { from, to, cc, bcc, subject, threading, headers: {}, text, html, attachments: attachments.map(cleanAttachment) });
}

/** A subject the agent typed wins, unless blank: a reply form sends "" for "not changed". */
function subjectOf(request: ComposeRequest): string {
  if (request.subject !== undefined && request.subject.trim() !== "") return oneLine("subject", "The subject", request.subject);
  if (request.kind === "new") return "";
  return request.kind === "forward" ? forwardSubject(request.original.subject) : replySubject(request.original.subject);
}

function bodyOf(request: ComposeRequest): { text: string; html: string | null } {
  const text = cleanText(request.text);
  const html = request.html === undefined || request.html === "" ? null : request.html;
  const zone = request.timeZone;
  if (request.kind === "reply" || request.kind === "replyAll") {
    return { text: replyText(text, request.original, zone), html: html === null ? null : replyHtml(html, request.original, zone) };
  }
  if (request.kind === "forward") {
    return { text: forwardText(text, request.original, zone), html: html === null ? null : forwardHtml(html, request.original, zone) };
  }
  return { text, html };
}

export interface AutoAcknowledgementTemplate {
  subject: string;
  text: string;
}

export interface AutoAcknowledgementRequest extends MessageContext {
  /**
   * Placeholders, replaced once (a value that itself holds "{{…}}" is not expanded again), any
   * other "{{name}}" left as written:
   *   {{customerName}}     the customer's display name ("" when the message had none)
   *   {{referenceNumber}}  the reference the contact center gives this conversation
   *   {{subject}}          the subject of the customer's message
   * Plain text only, and nothing of the customer's message but its subject (one line): an
   * acknowledgement that quoted the message would carry anyone's text to a forged sender address.
   */
  template: AutoAcknowledgementTemplate;
  customerName: string;
  customerAddress: string;
  referenceNumber: string;
  original: OriginalMessage;
}

/**
 * The automatic "we have your message" answer, as RFC 3834 asks of an automatic response:
 * - Auto-Submitted: auto-replied (RFC 3834 3.1.7 and 5), which responders check so as not to
 *   answer it; X-Auto-Response-Suppress: All is Microsoft's counterpart that Exchange and Outlook
 *   honour ([MS-OXCMAIL]).
 * - In-Reply-To and References as for a reply (RFC 3834 3.1), so it joins the customer's thread.
 * No Precedence field: no standard defines it (RFC 2076 lists it as non-standard and discouraged),
 * "auto_reply" is nobody's value, and "bulk" would file the acknowledgement with mass mail.
 * The envelope sender stays the From address: RFC 3834 3.3 allows (MAY) the null sender <>, but
 * submission servers (Microsoft 365, Gmail) accept only the mailbox that logged in.
 */
export async function composeAutoAcknowledgement(request: AutoAcknowledgementRequest): Promise<ComposedMessage> {
  const from = senderAddress(request.from);
  const customerAddress = request.customerAddress.trim();
  if (!isEmailAddress(customerAddress)) {
    throw AppError.invalid("customerAddress", `The customer's address "${cleanLine(customerAddress, 100)}" is not an email address; no acknowledgement can be sent to it.`);
  }
  const values: Record<string, string> = {
    customerName: cleanLine(request.customerName, 200),
    referenceNumber: cleanLine(request.referenceNumber, 200),
    subject: cleanLine(request.original.subject),
  };
  const subjectTemplate = oneLine("template.subject", "The acknowledgement's subject", request.template.subject);
  return build(request, {
    from,
    to: [{ address: normalizeAddress(customerAddress), name: values.customerName ?? "" }],
    cc: [],
    bcc: [],
    subject: cleanLine(fillTemplate(subjectTemplate, values)),
    threading: threadingOf(request.original),
    headers: { "Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All" },
    text: fillTemplate(cleanText(request.template.text), values),
    html: null,
    attachments: [],
  });
}

const placeholder = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** One pass over the template, so a replaced value is never read for placeholders itself. */
function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(placeholder, (whole, name: string) => (Object.hasOwn(values, name) ? (values[name] ?? "") : whole));
}

interface Decided {
  from: Address;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  subject: string;
  threading: Threading;
  headers: Record<string, string>;
  text: string;
  html: string | null;
  attachments: Attachment[];
}

async function build(context: MessageContext, message: Decided): Promise<ComposedMessage> {
  const internetMessageId = `${randomPart(context)}@${idDomain(context.messageIdDomain)}`;
  const raw = await buildMime({
    from: message.from,
    to: message.to,
    cc: message.cc,
    subject: message.subject,
    messageId: internetMessageId,
    date: context.now,
    inReplyTo: message.threading.inReplyTo,
    references: message.threading.references,
    headers: message.headers,
    text: message.text,
    html: message.html,
    attachments: message.attachments,
    boundarySeed: randomPart(context),
  });
  const envelopeTo = withoutDuplicates([...message.to, ...message.cc, ...message.bcc]).map((entry) => entry.address);
  return {
    raw,
    envelope: { from: message.from.address, to: envelopeTo },
    internetMessageId,
    inReplyTo: message.threading.inReplyTo,
    references: message.threading.references,
    subject: message.subject,
    to: message.to,
    cc: message.cc,
    bcc: message.bcc,
    text: message.text,
  };
}

// C0 and C1 controls but tab, and the Unicode line and paragraph separators
// eslint-disable-next-line no-control-regex
const headerBreaking = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

/** A value the agent typed for a header: refused, not silently changed, when it holds a line break. */
function oneLine(path: string, label: string, value: string): string {
  if (headerBreaking.test(value)) throw AppError.invalid(path, `${label} must be a single line: remove the line breaks and control characters.`);
  return value.trim();
}

function senderAddress(from: SenderIdentity): Address {
  const address = from.address.trim();
  if (!isEmailAddress(address)) throw AppError.invalid("from", `The From address "${cleanLine(address, 100)}" is not an email address.`);
  return { address: normalizeAddress(address), name: oneLine("from", "The From display name", from.displayName) };
}

/** Bare addresses the agent typed, with the display names the customer's message gives them. */
function typedAddresses(path: string, values: readonly string[], names: Map<string, string>): Address[] {
  return values.map((value, index) => {
    const address = value.trim();
    if (!isEmailAddress(address)) {
      throw AppError.invalid(`${path}[${index}]`, `"${cleanLine(address, 100)}" is not an email address; enter one such as customer@example.com.`);
    }
    return { address: normalizeAddress(address), name: names.get(addressKey(address)) ?? "" };
  });
}

function recipientsOf(request: ComposeRequest, fromAddress: string): { to: Address[]; cc: Address[]; bcc: Address[] } {
  const original = request.kind === "new" ? null : request.original;
  const names = knownNames(original);
  const computed =
    request.kind === "reply" || request.kind === "replyAll" ? replyRecipients(request.kind, request.original, request.ownAddresses, fromAddress) : { to: [], cc: [] };
  const taken = new Set<string>();
  const to = withoutDuplicates(request.to === undefined ? computed.to : typedAddresses("to", request.to, names), taken);
  const cc = withoutDuplicates(request.cc === undefined ? computed.cc : typedAddresses("cc", request.cc, names), taken);
  const bcc = withoutDuplicates(typedAddresses("bcc", request.bcc ?? [], names), taken);
  if (to.length + cc.length + bcc.length === 0) {
    const replying = (request.kind === "reply" || request.kind === "replyAll") && request.to === undefined;
    throw AppError.invalid(
      "to",
      replying ? "The customer's message has no address to reply to: enter the recipient in To." : "Enter at least one recipient in To, Cc or Bcc.",
    );
  }
  return { to, cc, bcc };
}

// RFC 2045 token characters, and parameters without controls: anything else is no content type
// eslint-disable-next-line no-control-regex
const contentTypePattern = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[^\u0000-\u001f\u007f]*)?$/;

/**
 * File names come from the customer's message or the agent's upload: made one line rather than
 * refused. A content type that is none becomes application/octet-stream, which every client offers
 * to save.
 */
function cleanAttachment(attachment: Attachment): Attachment {
  const contentType = attachment.contentType.trim();
  return {
    filename: cleanLine(attachment.filename, 255) || "attachment",
    contentType: contentTypePattern.test(contentType) ? contentType : "application/octet-stream",
    content: attachment.content,
  };
}

/** The generated id's left side: whatever randomId gives must not be able to break the header. */
function randomPart(context: MessageContext): string {
  const id = context.randomId();
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(id)) throw new Error(`randomId must give 1 to 200 letters, digits, "-", "." or "_"; it gave "${cleanLine(id, 100)}".`);
  return id;
}

function idDomain(domain: string): string {
  if (!isHostName(domain) || isIP(domain) !== 0) throw new Error(`The Message-ID domain "${cleanLine(domain, 100)}" is not a host name such as mail.example.com.`);
  return domain.toLowerCase();
}
