import { decodeUtf8OrWindows1252 } from "./legacy-charset.js";

/**
 * Reads the header block of a raw message on our own terms rather than the MIME parser's: the size
 * check, classification, threading and the dedup key need the header values as they were sent and
 * the exact byte offset where the body starts, also for messages the parser would reject.
 */

export interface HeaderField {
  /** lower case */
  name: string;
  /** unfolded, not RFC 2047-decoded; read as UTF-8, or as Windows-1252 where a line is not UTF-8 */
  value: string;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** where the header block starts: after a leading mbox `From ` line, else 0 */
  start: number;
  /** where the header block ends (the blank line, or the first line that is not a header field) */
  end: number;
  /** the first byte of the body; the raw length when there is no body */
  bodyStart: number;
  /** the header lines as text, CRLF-terminated; differs from the raw bytes when a line was not UTF-8 */
  text: string;
  /** true when some header line was not UTF-8 and was read as Windows-1252 */
  transcoded: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;


/** `name:` or `name :` with a name of printable ASCII; anything else is not a header field. */
function isFieldStart(raw: Buffer, from: number, to: number): boolean {
  let i = from;
  while (i < to && raw[i]! > SP && raw[i]! < 0x7f && raw[i] !== COLON) i++;
  if (i === from) return false;
  while (i < to && (raw[i] === SP || raw[i] === HT)) i++;
  return i < to && raw[i] === COLON;
}

function lineEnd(raw: Buffer, from: number): { end: number; next: number } {
  const lf = raw.indexOf(LF, from);
  if (lf === -1) return { end: raw.length, next: raw.length };
  return { end: lf > from && raw[lf - 1] === CR ? lf - 1 : lf, next: lf + 1 };
}

export function readHeaderBlock(raw: Buffer): HeaderBlock {
  let pos = 0;
  // an mbox separator line ("From sender date") is an artifact of storage, not a header
  if (raw.length > 5 && raw.toString("latin1", 0, 5) === "From ") pos = lineEnd(raw, 0).next;
  const start = pos;
  const lines: Array<[number, number]> = [];
  let end = raw.length;
  let bodyStart = raw.length;
  while (pos < raw.length) {
    const line = lineEnd(raw, pos);
    if (line.end === pos) {
      end = pos;
      bodyStart = line.next;
      break;
    }
    const continuation = raw[pos] === SP || raw[pos] === HT;
    if (!(continuation ? lines.length > 0 : isFieldStart(raw, pos, line.end))) {
      // not a header line and no blank line before it: the body starts here
      end = pos;
      bodyStart = pos;
      break;
    }
    lines.push([pos, line.end]);
    pos = line.next;
  }

  let transcoded = false;
  const texts: string[] = [];
  let highBytes = false;
  for (let i = start; i < end && !highBytes; i++) if (raw[i]! >= 0x80) highBytes = true;
  for (const [from, to] of lines) {
    if (!highBytes) {
      texts.push(raw.toString("latin1", from, to));
      continue;
    }
    const decoded = decodeUtf8OrWindows1252(raw.subarray(from, to));
    transcoded ||= decoded.legacy;
    texts.push(decoded.text);
  }

  const fields: HeaderField[] = [];
  for (const text of texts) {
    const first = text.charCodeAt(0);
    const last = fields[fields.length - 1];
    if ((first === SP || first === HT) && last) {
      last.value += text;
      continue;
    }
    const colon = text.indexOf(":");
    fields.push({ name: text.slice(0, colon).trimEnd().toLowerCase(), value: text.slice(colon + 1) });
  }
  for (const field of fields) field.value = field.value.trim();
  return { fields, start, end, bodyStart, text: texts.map((t) => `${t}\r\n`).join(""), transcoded };
}

/** The first value of a header, or undefined. */
export function headerValue(block: HeaderBlock, name: string): string | undefined {
  return block.fields.find((f) => f.name === name)?.value;
}

/** Every value of a header, in order. */
export function headerValues(block: HeaderBlock, name: string): string[] {
  return block.fields.filter((f) => f.name === name).map((f) => f.value);
}
