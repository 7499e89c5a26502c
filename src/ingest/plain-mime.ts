import libmime from "libmime";
import libqp from "libqp";
import addressparser, { type Address as ParsedAddress } from "nodemailer/lib/addressparser";
import type { AddressObject, EmailAddress } from "mailparser";
import { addressList, firstAddress } from "./addresses.js";
import { cleanLine } from "./clean-text.js";
import type { HeaderBlock } from "./header-block.js";
import type { MimeContent } from "./mime-parse.js";

/**
 * The MIME content of the commonest message of all, one plain-text part in UTF-8 or ASCII, read
 * without the MIME parser's machinery: for such a message mailparser costs ~0.18 ms, most of it the
 * fixed cost of its streams, and this ~0.02 ms. The result is the one `parseMime` gives, field for
 * field (`plain-mime.test.ts` compares the two on the benchmark corpora, the hostile corpus and edge
 * cases): the header values go through the same library calls as in mailparser (libmime's
 * decodeHeader and decodeWords, nodemailer's addressparser, libqp), the body is decoded as its
 * text node is.
 *
 * Anything outside that shape answers null and goes to the MIME parser: another type or charset, a
 * parameter besides the charset (format=flowed), base64, a Content-Disposition, a repeated address or
 * content header, 8-bit or over-long headers, an mbox line, a header block not ended by a blank line,
 * an internationalized domain or an encoded word inside an address. Every step here takes time linear
 * in its input, and the caller bounds the input (`inlineMaxBytes`), so this is also safe to run on
 * the server's own thread.
 */

/** Largest message read this way; larger ones are few and go to the parse workers. */
export const inlineMaxBytes = 256 * 1024;
/** Longest header value read this way: libmime's encoded-word patterns may rescan a value per `=?`. */
const maxValueLength = 2_000;
const maxHeaderBytes = 32 * 1024;

const plainType = /^text\/plain\s*(?:;\s*charset\s*=\s*(?:"(?:utf-8|utf8|us-ascii)"|(?:utf-8|utf8|us-ascii))\s*)?;?$/i;
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

function bodyText(raw: Buffer, header: HeaderBlock, encoding: string): string | null {
  const body = raw.subarray(header.bodyStart);
  const bytes = encoding === "quoted-printable" ? libqp.decode(body.toString("latin1")) : body;
  // as mailparser reads a text node: UTF-8, line breaks as \n; no text at all is no text part
  const text = bytes.toString().replace(/\r?\n/g, "\n");
  return text === "" ? null : text;
}

function withinBounds(raw: Buffer, header: HeaderBlock): boolean {
  if (raw.length > inlineMaxBytes || header.start !== 0 || header.transcoded) return false;
  if (header.end - header.start > maxHeaderBytes) return false;
  // the header block ends with a blank line, as mailsplit expects, and is plain ASCII
  if (header.bodyStart === header.end) return false;
  for (let i = header.start; i < header.end; i++) if (raw[i]! >= 0x80) return false;
  return true;
}

export function plainMimeContent(raw: Buffer, header: HeaderBlock): MimeContent | null {
  try {
    return withinBounds(raw, header) ? plainContent(raw, header) : null;
  } catch {
    // nothing here should throw; if something does, the MIME parser reads the message
    return null;
  }
}

function plainContent(raw: Buffer, header: HeaderBlock): MimeContent | null {
  const fields = fieldsOf(header);
  if (!fields || fields.has("content-disposition")) return null;
  const type = fields.get("content-type");
  if (type !== undefined && !plainType.test(type)) return null;
  const encoding = (fields.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  if (!passThroughEncodings.has(encoding) && encoding !== "quoted-printable") return null;
  const [from, to, cc, replyTo] = addressHeaders.map((name) => addressObject(fields.get(name)));
  if (from === null || to === null || cc === null || replyTo === null) return null;
  return {
    subject: cleanLine(decodeWords(fields.get("subject") ?? "")),
    from: firstAddress(from),
    to: addressList(to),
    cc: addressList(cc),
    replyTo: addressList(replyTo),
    text: bodyText(raw, header, encoding),
    html: null,
    attachments: [],
  };
}
