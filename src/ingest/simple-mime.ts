import libmime from "libmime";
import libqp from "libqp";
import addressparser, { type Address as ParsedAddress } from "nodemailer/lib/addressparser";
import type { AddressObject, EmailAddress } from "mailparser";
import { isBlank } from "../shared/bytes.js";
import { addressList, firstAddress } from "./addresses.js";
import { cleanLine } from "./clean-text.js";
import { readHeaderBlock, type HeaderBlock } from "./header-block.js";
import type { MimeContent } from "./mime-parse.js";

/**
 * The MIME content of the two commonest shapes of mail, read without the MIME parser's machinery:
 * one plain-text part, and a multipart/alternative of one plain-text and one HTML part, each in
 * UTF-8 or ASCII. For a plain message mailparser costs ~0.18 ms, most of it the fixed cost of its
 * streams, and this ~0.02 ms. The result is the one `parseMime` gives, field for field
 * (`simple-mime.test.ts` compares the two on the benchmark corpora, the hostile corpus and edge
 * cases): the header values go through the same library calls as in mailparser (libmime's
 * decodeHeader and decodeWords, nodemailer's addressparser, libqp), a body is decoded as its text
 * node is, and the parts are split where mailsplit splits them.
 *
 * Anything outside those shapes answers null and goes to the MIME parser: another type or charset, a
 * parameter besides the charset (format=flowed) or the boundary, base64, a Content-Disposition, a
 * repeated address or content header, 8-bit or over-long headers, an mbox line, a header block not
 * ended by a blank line, an internationalized domain or an encoded word inside an address; for the
 * multipart, a preamble or epilogue, a part without its own Content-Type, and any line starting with
 * the delimiter that is not exactly a delimiter line. Every step here takes time linear in its input,
 * and the caller bounds the input (`inlineMaxBytes`), so the plain-text reader is also safe to run on
 * the server's own thread.
 */

/** Largest message read this way; larger ones are few and go to the parse workers. */
export const inlineMaxBytes = 256 * 1024;
/** Longest header value read this way: libmime's encoded-word patterns may rescan a value per `=?`. */
const maxValueLength = 2_000;
const maxHeaderBytes = 32 * 1024;

const utf8Charset = String.raw`(?:;\s*charset\s*=\s*(?:"(?:utf-8|utf8|us-ascii)"|(?:utf-8|utf8|us-ascii))\s*)?;?`;
const plainType = new RegExp(String.raw`^text\/plain\s*${utf8Charset}$`, "i");
const htmlType = new RegExp(String.raw`^text\/html\s*${utf8Charset}$`, "i");
/** RFC 2046 bchars without the space: a boundary that needs no more care to compare as mailsplit does */
const alternativeType = /^multipart\/alternative\s*;\s*boundary\s*=\s*(?:"([0-9A-Za-z'()+_,\-./:=?]{1,70})"|([0-9A-Za-z'()+_,\-./:=?]{1,70}))\s*;?$/i;
const passThroughEncodings = new Set(["7bit", "8bit", "binary"]);
/** Headers mailparser keeps once (the first) or joins: either way, two of them go to the parser. */
const once = new Set(["subject", "from", "to", "cc", "reply-to", "content-type", "content-transfer-encoding", "content-disposition"]);
const addressHeaders = ["from", "to", "cc", "reply-to"] as const;
const encodedWord = /=\?[^?]+\?[BbQq]\?[^?]*\?=/;

/** The header block as mailparser sees it: each field's lines, unfolded by libmime, keyed by name. */
function fieldsOf(header: HeaderBlock): Map<string, string> | null {
  const fields = new Map<string, string>();
  const lines = header.text.split("\r\n");
  lines.pop();
  let current: string[] = [];
  const close = () => {
    if (current.length === 0) return true;
    const { key, value } = libmime.decodeHeader(current.join("\r\n"));
    current = [];
    if (!once.has(key)) return true;
    if (fields.has(key) || value.length > maxValueLength) return false;
    fields.set(key, value);
    return true;
  };
  for (const line of lines) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      current.push(line);
      continue;
    }
    if (!close()) return null;
    current.push(line);
  }
  return close() ? fields : null;
}

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** addressparser's entries decoded as mailparser decodes them, or null for the cases left to it. */
function decodedAddresses(entries: ParsedAddress[]): EmailAddress[] | null {
  const out: EmailAddress[] = [];
  for (const entry of entries) {
    const name = decodeWords(entry.name.trim());
    if (entry.group) {
      const group = decodedAddresses(entry.group);
      if (!group) return null;
      out.push({ name, group });
      continue;
    }
    const address = entry.address;
    if (encodedWord.test(address) || /@xn--/.test(address)) return null;
    out.push({ name, address });
  }
  return out;
}

function addressObject(value: string | undefined): AddressObject | undefined | null {
  if (value === undefined) return undefined;
  const entries = decodedAddresses(addressparser(value));
  return entries && { value: entries, html: "", text: "" };
}

/** A text part's body as mailparser reads a text node: UTF-8, line breaks as \n; no text is no part. */
function bodyText(body: Buffer, encoding: string): string | null {
  const bytes = encoding === "quoted-printable" ? libqp.decode(body.toString("latin1")) : body;
  const text = bytes.toString().replace(/\r?\n/g, "\n");
  return text === "" ? null : text;
}

/** The header block ends with a blank line, as mailsplit expects, is plain ASCII and not too long. */
function simpleHeader(raw: Buffer, header: HeaderBlock): boolean {
  if (header.start !== 0 || header.transcoded) return false;
  if (header.end - header.start > maxHeaderBytes) return false;
  if (header.bodyStart === header.end) return false;
  for (let i = header.start; i < header.end; i++) if (raw[i]! >= 0x80) return false;
  return true;
}

/** The transfer encoding of a text part when it is one read here, lower case; else null. */
function textEncoding(fields: Map<string, string>): string | null {
  const encoding = (fields.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  return passThroughEncodings.has(encoding) || encoding === "quoted-printable" ? encoding : null;
}

type HeaderContent = Pick<MimeContent, "subject" | "from" | "to" | "cc" | "replyTo">;

function headerContent(fields: Map<string, string>): HeaderContent | null {
  const [from, to, cc, replyTo] = addressHeaders.map((name) => addressObject(fields.get(name)));
  if (from === null || to === null || cc === null || replyTo === null) return null;
  return {
    subject: cleanLine(decodeWords(fields.get("subject") ?? "")),
    from: firstAddress(from),
    to: addressList(to),
    cc: addressList(cc),
    replyTo: addressList(replyTo),
  };
}

type Reader = (raw: Buffer, header: HeaderBlock, fields: Map<string, string>) => MimeContent | null;

function simpleContent(raw: Buffer, header: HeaderBlock, read: Reader): MimeContent | null {
  try {
    if (raw.length > inlineMaxBytes || !simpleHeader(raw, header)) return null;
    const fields = fieldsOf(header);
    if (!fields || fields.has("content-disposition")) return null;
    return read(raw, header, fields);
  } catch {
    // nothing here should throw; if something does, the MIME parser reads the message
    return null;
  }
}

const plainContent: Reader = (raw, header, fields) => {
  const type = fields.get("content-type");
  if (type !== undefined && !plainType.test(type)) return null;
  const encoding = textEncoding(fields);
  const decoded = encoding === null ? null : headerContent(fields);
  if (encoding === null || decoded === null) return null;
  return { ...decoded, text: bodyText(raw.subarray(header.bodyStart), encoding), html: null, attachments: [] };
};

const LF = 0x0a;
const CR = 0x0d;

/** Where a delimiter line that starts at `at` ends (after its line break), or -1 if it is not one. */
function delimiterLineEnd(body: Buffer, at: number, length: number, closing: boolean): number {
  let i = at + length;
  if (closing) {
    if (body[i] !== 0x2d || body[i + 1] !== 0x2d) return -1;
    i += 2;
    if (i === body.length) return i;
  }
  if (body[i] === CR && body[i + 1] === LF) return i + 2;
  return body[i] === LF ? i + 1 : -1;
}

/**
 * The two parts of a multipart body as byte ranges, split where mailsplit splits them: each part
 * starts after a delimiter line and ends before the line break in front of the next one. Null unless
 * the body is exactly delimiter, part, delimiter, part, closing delimiter and blank lines, and no other
 * line starts with the delimiter (mailsplit would read one with trailing blanks as a delimiter too).
 */
function twoParts(body: Buffer, boundary: string): [Buffer, Buffer] | null {
  const delimiter = Buffer.from(`--${boundary}`, "latin1");
  const starts: number[] = [];
  for (let at = body.indexOf(delimiter); at !== -1; at = body.indexOf(delimiter, at + 1)) {
    const before = at === 0 ? LF : body[at - 1];
    if (before === CR) return null;
    if (before === LF) starts.push(at);
  }
  if (starts.length !== 3 || starts[0] !== 0) return null;
  const parts: Buffer[] = [];
  for (let k = 0; k < 2; k++) {
    const start = delimiterLineEnd(body, starts[k]!, delimiter.length, false);
    const next = starts[k + 1]!;
    if (start === -1 || start > next) return null;
    const end = body[next - 2] === CR ? next - 2 : next - 1;
    if (end < start) return null;
    parts.push(body.subarray(start, end));
  }
  const closed = delimiterLineEnd(body, starts[2]!, delimiter.length, true);
  if (closed === -1 || !isBlank(body, closed)) return null;
  return parts as [Buffer, Buffer];
}

interface TextPart {
  type: "plain" | "html";
  text: string | null;
}

function textPart(part: Buffer): TextPart | null {
  const header = readHeaderBlock(part);
  // an empty body is left to the parser: mailsplit reads the blank line ending the header as its text
  if (!simpleHeader(part, header) || header.bodyStart >= part.length) return null;
  const fields = fieldsOf(header);
  if (!fields || fields.has("content-disposition")) return null;
  const type = fields.get("content-type");
  const kind = type === undefined ? null : plainType.test(type) ? "plain" : htmlType.test(type) ? "html" : null;
  const encoding = textEncoding(fields);
  if (kind === null || encoding === null) return null;
  return { type: kind, text: bodyText(part.subarray(header.bodyStart), encoding) };
}

const alternativeContent: Reader = (raw, header, fields) => {
  const type = alternativeType.exec(fields.get("content-type") ?? "");
  const boundary = type?.[1] ?? type?.[2];
  const encoding = fields.get("content-transfer-encoding");
  if (boundary === undefined || (encoding !== undefined && !passThroughEncodings.has(encoding.toLowerCase()))) return null;
  const parts = twoParts(raw.subarray(header.bodyStart), boundary);
  const plain = parts && textPart(parts[0]);
  const html = parts && textPart(parts[1]);
  if (plain?.type !== "plain" || html?.type !== "html") return null;
  const decoded = headerContent(fields);
  return decoded && { ...decoded, text: plain.text, html: html.text, attachments: [] };
};

/** A message of one plain-text part; null for any other. */
export function plainMimeContent(raw: Buffer, header: HeaderBlock): MimeContent | null {
  return simpleContent(raw, header, plainContent);
}

/** A multipart/alternative of a plain-text part and then an HTML part; null for any other message. */
export function alternativeMimeContent(raw: Buffer, header: HeaderBlock): MimeContent | null {
  return simpleContent(raw, header, alternativeContent);
}
