import { createHash } from "node:crypto";
import { isBlank } from "../shared/bytes.js";
import { noAddress } from "./addresses.js";
import { safeFilename } from "./attachment-name.js";
import { classify } from "./classify.js";
import { cleanLine, cleanText } from "./clean-text.js";
import { messageFingerprint } from "./fingerprint.js";
import { headerValue, headerValues, readHeaderBlock, type HeaderBlock } from "./header-block.js";
import { sanitizeMailHtml } from "./html-sanitize.js";
import { htmlToText } from "./html-to-text.js";
import { decodeUtf8OrWindows1252 } from "./legacy-charset.js";
import { parseMailDate } from "./mail-date.js";
import { messageIdOf, messageIds, referenceIds } from "./message-ids.js";
import { parseMime, type MimeContent, type MimePart } from "./mime-parse.js";
import { alternativeMimeContent, inlineMaxBytes, plainMimeContent } from "./simple-mime.js";
import type { IngestContext, ParsedAttachment, ParsedMail } from "./types.js";
import {
  emptyText,
  originalAttachment,
  oversizeText,
  unparsableText,
  wrappedMail,
  type EmptyKind,
  type WrappedFields,
} from "./wrapped.js";

/** What a connector hands over: the bytes it fetched and what the server said about the whole. */
export interface MailInput {
  raw: Buffer;
  size: number;
  truncated: boolean;
}

type DecodedHeaders = Pick<MimeContent, "subject" | "from" | "to" | "cc" | "replyTo">;

/** At most this many Delivered-To headers are read: a loop adds one per hop. */
const maxDeliveredTo = 20;
const deliveredAddress = /^<?\s*([^\s<>@]+@[^\s<>@]+?)\s*>?$/;

/** What the header block says about the message's place in threads and where it was delivered. */
function threading(header: HeaderBlock): Pick<ParsedMail, "messageId" | "inReplyTo" | "references" | "deliveredTo"> {
  const deliveredTo = new Set<string>();
  for (const value of headerValues(header, "delivered-to").slice(0, maxDeliveredTo)) {
    const address = deliveredAddress.exec(value.trim())?.[1];
    if (address && address.length <= 254) deliveredTo.add(address.toLowerCase());
  }
  return {
    messageId: messageIdOf(headerValues(header, "message-id")),
    inReplyTo: messageIds(headerValues(header, "in-reply-to")),
    references: referenceIds(headerValues(header, "references")),
    deliveredTo: [...deliveredTo],
  };
}

/** The header block the MIME parser should see: UTF-8, without an mbox line, ending in a blank line. */
function normalizedSource(raw: Buffer, header: HeaderBlock): Buffer {
  const blankLineMissing = header.end === header.bodyStart && header.bodyStart < raw.length;
  if (!header.transcoded && header.start === 0 && !blankLineMissing) return raw;
  return Buffer.concat([Buffer.from(`${header.text}\r\n`, "utf8"), raw.subarray(header.bodyStart)]);
}

/** Decoded subject and addresses from the header block alone, for mail whose body is not parsed. */
async function decodeHeaders(header: HeaderBlock): Promise<DecodedHeaders> {
  try {
    return await parseMime(Buffer.from(`${header.text}\r\n`, "utf8"));
  } catch {
    return { subject: cleanLine(headerValue(header, "subject") ?? ""), from: { ...noAddress }, to: [], cc: [], replyTo: [] };
  }
}

async function headerFields(input: MailInput, header: HeaderBlock, ctx: IngestContext) {
  const decoded = await decodeHeaders(header);
  const ids = threading(header);
  const flags = classify({ header, subject: decoded.subject, fromAddress: decoded.from.address, ownAddresses: ctx.ownAddresses });
  return {
    ...decoded,
    ...ids,
    date: parseMailDate(headerValue(header, "date")),
    autoReply: flags.autoReply,
    bounce: flags.bounce,
    loop: flags.loop,
    contentHash: messageFingerprint(input, header),
  } satisfies Omit<WrappedFields, "reason" | "text" | "attachments">;
}

async function oversizeMail(input: MailInput, header: HeaderBlock, ctx: IngestContext): Promise<ParsedMail> {
  const size = Math.max(input.size, input.raw.length);
  const fields = await headerFields(input, header, ctx);
  const headerBytes = input.raw.subarray(header.start, header.end);
  return wrappedMail({
    ...fields,
    reason: "oversize",
    text: oversizeText(size, ctx.maxSizeBytes, input.truncated),
    attachments: headerBytes.length > 0 ? [originalAttachment(headerBytes, "original-headers.txt")] : [],
  });
}

const noHeader: HeaderBlock = { fields: [], start: 0, end: 0, bodyStart: 0, text: "", transcoded: false };

/** Mail without sender, recipients or content: only the bytes as a whole tell two of them apart. */
function emptyMail(input: MailInput, kind: EmptyKind): ParsedMail {
  const { raw } = input;
  return wrappedMail({
    reason: "empty",
    text: emptyText(kind, raw.length),
    attachments: raw.length > 0 ? [originalAttachment(raw, "original.eml")] : [],
    contentHash: messageFingerprint(input),
  });
}

async function unparsableMail(input: MailInput, header: HeaderBlock, ctx: IngestContext, reason: string): Promise<ParsedMail> {
  const { raw } = input;
  const fields = header.fields.length > 0 ? await headerFields(input, header, ctx) : { contentHash: messageFingerprint(input, header) };
  return wrappedMail({ ...fields, reason: "unparsable", text: unparsableText(reason, raw.length), attachments: [originalAttachment(raw, "original.eml")] });
}

/** Content-IDs the HTML refers to with `cid:` URLs, lower case. */
function referencedContentIds(html: string | null): Set<string> {
  const ids = new Set<string>();
  if (!html) return ids;
  for (const match of html.matchAll(/cid:([^"'\s>)]+)/gi)) {
    let id = match[1] ?? "";
    try {
      id = decodeURIComponent(id);
    } catch {
      // a malformed escape: compare the id as written
    }
    ids.add(id.replace(/[<>]/g, "").toLowerCase());
  }
  return ids;
}

function toAttachment(part: MimePart, index: number, referenced: Set<string>): ParsedAttachment {
  let filename = safeFilename(part.filename, index, part.contentType);
  if (part.contentType === "message/rfc822" && !/\.eml$/i.test(filename)) filename = safeFilename(`${filename}.eml`, index, part.contentType);
  return {
    filename,
    contentType: part.contentType,
    size: part.content.length,
    inline: part.contentId !== null && referenced.has(part.contentId.toLowerCase()),
    contentId: part.contentId,
    content: part.content,
  };
}

/** Body bytes as text when the MIME structure yielded nothing (e.g. multipart without a boundary). */
function bodyAsText(raw: Buffer, header: HeaderBlock): string {
  return decodeUtf8OrWindows1252(raw.subarray(header.bodyStart)).text;
}

/** What Mailroom stores of a message whose MIME content was read. */
function mailOf(input: MailInput, header: HeaderBlock, ctx: IngestContext, mime: MimeContent): ParsedMail {
  const { raw } = input;
  const referenced = referencedContentIds(mime.html);
  const attachments = mime.attachments.map((part, i) => toAttachment(part, i + 1, referenced));
  let text = mime.text;
  if ((text === null || text.trim() === "") && mime.html !== null) text = htmlToText(mime.html);
  // nothing is silently dropped: a body the parser could not place is shown as it is
  if (text === null && mime.html === null && attachments.length === 0 && !isBlank(raw, header.bodyStart)) text = bodyAsText(raw, header);
  const ids = threading(header);
  const flags = classify({ header, subject: mime.subject, fromAddress: mime.from.address, ownAddresses: ctx.ownAddresses });
  return {
    ...ids,
    subject: mime.subject,
    from: mime.from,
    to: mime.to,
    cc: mime.cc,
    replyTo: mime.replyTo,
    date: parseMailDate(headerValue(header, "date")),
    text: cleanText(text ?? ""),
    html: mime.html === null ? null : sanitizeMailHtml(mime.html),
    attachments,
    flags: { ...flags, wrapped: null },
    contentHash: messageFingerprint(input, header),
  };
}

async function fullMail(input: MailInput, header: HeaderBlock, ctx: IngestContext): Promise<ParsedMail> {
  const { raw } = input;
  const mime = plainMimeContent(raw, header) ?? alternativeMimeContent(raw, header) ?? (await parseMime(normalizedSource(raw, header)));
  return mailOf(input, header, ctx, mime);
}

type Special = "oversize" | "headerless" | EmptyKind;

/** Mail that is not parsed as it is, and why; null for mail that is. */
function specialCase(input: MailInput, header: HeaderBlock, ctx: IngestContext): Special | null {
  const { raw } = input;
  if (input.truncated || input.size > ctx.maxSizeBytes || raw.length > ctx.maxSizeBytes) return "oversize";
  if (raw.length === 0) return "zero-bytes";
  if (isBlank(raw)) return "blank";
  if (header.fields.length === 0) return "headerless";
  const addressed = ["from", "to", "subject"].some((name) => (headerValue(header, name) ?? "").trim() !== "");
  if (!addressed && isBlank(raw, header.bodyStart)) return "no-content";
  return null;
}

async function parseOrWrap(input: MailInput, ctx: IngestContext): Promise<ParsedMail> {
  const header = readHeaderBlock(input.raw);
  const special = specialCase(input, header, ctx);
  if (special === "oversize") return oversizeMail(input, header, ctx);
  if (special === "headerless") return unparsableMail(input, header, ctx, "it does not start with a header block (lines such as From:, To: and Subject:)");
  if (special !== null) return emptyMail(input, special);
  try {
    return await fullMail(input, header, ctx);
  } catch (error) {
    const detail = cleanLine(error instanceof Error ? error.message : String(error), 200);
    return unparsableMail(input, header, ctx, `its MIME structure could not be parsed (${detail || "unknown error"})`);
  }
}

/** The fingerprint even where reading the header block is what failed: then the whole bytes are hashed. */
function safeFingerprint(input: MailInput): string {
  try {
    return messageFingerprint(input);
  } catch {
    return createHash("sha256").update(input.raw).digest("hex");
  }
}

/**
 * The answer for a message whose parsing failed in a way the steps above could not handle (a bug, or
 * a parse worker that died on it): only cheap, linear reading of the header block, no MIME decoding.
 */
export function crashedParseResult(input: MailInput, reason: string): ParsedMail {
  let header = noHeader;
  try {
    header = readHeaderBlock(input.raw);
  } catch {
    // keep the empty header: the message is still kept whole as original.eml
  }
  const ids = threading(header);
  return wrappedMail({
    ...ids,
    reason: "unparsable",
    subject: cleanLine(headerValue(header, "subject") ?? ""),
    date: parseMailDate(headerValue(header, "date")),
    text: unparsableText(reason, input.raw.length),
    attachments: input.raw.length > 0 ? [originalAttachment(input.raw, "original.eml")] : [],
    contentHash: safeFingerprint(input),
  });
}

/**
 * Turns one raw message into what Mailroom stores. Never throws: mail that cannot be imported as it
 * is becomes a wrapped result that says why, keeping the original where there is one.
 */
export async function parseMail(input: MailInput, ctx: IngestContext): Promise<ParsedMail> {
  try {
    return await parseOrWrap(input, ctx);
  } catch (error) {
    // the last line of defence: a bug in a step above must not lose the message
    const detail = cleanLine(error instanceof Error ? error.message : String(error), 200);
    return crashedParseResult(input, `reading it failed (${detail || "unknown error"})`);
  }
}

/**
 * The parse of a message the plain-text fast path takes (`simple-mime.ts`), done at once on the calling
 * thread; null for every other message, which goes to a parse worker. It is what parseMail answers for
 * the same bytes. Only code that runs in time linear in the message's bounded size runs here, so the
 * server's thread is safe from hostile mail: the rest of a worker's protection (memory limit, timeout)
 * is for the MIME parser.
 */
export function parsePlainInline(input: MailInput, ctx: IngestContext): ParsedMail | null {
  if (input.raw.length > inlineMaxBytes) return null;
  try {
    const header = readHeaderBlock(input.raw);
    if (specialCase(input, header, ctx) !== null) return null;
    const mime = plainMimeContent(input.raw, header);
    return mime && mailOf(input, header, ctx, mime);
  } catch {
    // whatever went wrong, the worker's parse has the answer
    return null;
  }
}
