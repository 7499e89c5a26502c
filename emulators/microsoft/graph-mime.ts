/**
 * Just enough MIME for the emulator to show a stored message as Graph's message resource: the header block, addresses,
 * RFC 2047 encoded words, and the first text and HTML bodies. It is deliberately small and forgiving; it never rewrites
 * the stored bytes, which $value returns as they came.
 */

export interface HeaderField {
  name: string;
  value: string;
}

export interface Address {
  name: string;
  address: string;
}

export interface ParsedMime {
  headers: HeaderField[];
  subject: string;
  from: Address | null;
  sender: Address | null;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  messageId: string;
  inReplyTo: string;
  references: string[];
  date: Date | null;
  text: string | null;
  html: string | null;
  hasAttachments: boolean;
}

/** Where the header block ends: the first empty line (CRLF or bare LF), or the end when there is no body. */
function splitHeaderBlock(raw: Buffer): { head: string; body: Buffer } {
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  let end: number;
  let skip: number;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) [end, skip] = [crlf, 4];
  else if (lf !== -1) [end, skip] = [lf, 2];
  else [end, skip] = [raw.length, 0];
  return { head: raw.subarray(0, end).toString("latin1"), body: raw.subarray(Math.min(raw.length, end + skip)) };
}

/** The header fields in order, folded lines joined (RFC 5322 §2.2.3). */
export function readHeaders(head: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1] as HeaderField;
      last.value += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** True when the bytes start with something that looks like a header block: a mail message, not random text. */
export function looksLikeMime(raw: Buffer): boolean {
  const { head } = splitHeaderBlock(raw);
  const first = head.split(/\r?\n/, 1)[0] ?? "";
  return /^[\x21-\x39\x3b-\x7e]+:/.test(first) && readHeaders(head).length > 0;
}

function header(fields: HeaderField[], name: string): string | undefined {
  const key = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === key)?.value;
}

function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.trim().toLowerCase() || "utf-8").decode(bytes);
  } catch {
    return bytes.toString("latin1");
  }
}

/** RFC 2047 encoded words; the header was read as latin1, so raw 8-bit UTF-8 headers are recovered first. */
export function decodeWords(value: string): string {
  const raw = /[\x80-\xff]/.test(value) ? decodeBytes(Buffer.from(value, "latin1"), "utf-8") : value;
  return raw
    .replace(/(=\?[^?]+\?[bqBQ]\?[^?]*\?=)\s+(?==\?)/g, "$1")
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bqBQ])\?([^?]*)\?=/g, (_m, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toLowerCase() === "b"
          ? Buffer.from(text, "base64")
          : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9a-fA-F]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1");
      return decodeBytes(bytes, charset);
    });
}

/** An address list ("Name <a@b>, c@d, "Last, First" <e@f>"); groups are flattened. */
export function parseAddressList(value: string | undefined): Address[] {
  if (!value) return [];
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  let angle = 0;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === "<") angle += 1;
    else if (!quoted && ch === ">") angle = Math.max(0, angle - 1);
    if (!quoted && angle === 0 && (ch === "," || ch === ";")) {
      parts.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  parts.push(current);
  const list: Address[] = [];
  for (let part of parts) {
    part = part.replace(/^[^:<"]*:/, "").trim(); // a group's display name
    if (part === "") continue;
    const angled = /^(.*)<([^>]*)>\s*$/.exec(part);
    if (angled) {
      const name = decodeWords((angled[1] ?? "").trim().replace(/^"(.*)"$/, "$1").replace(/\\(.)/g, "$1"));
      list.push({ name: name || (angled[2] ?? "").trim(), address: (angled[2] ?? "").trim() });
    } else {
      const address = part.replace(/\(.*\)/g, "").trim();
      list.push({ name: address, address });
    }
  }
  return list.filter((a) => a.address !== "");
}

function params(value: string): { type: string; params: Map<string, string> } {
  const [type = "", ...rest] = value.split(";");
  const map = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq === -1) continue;
    map.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1"));
  }
  return { type: type.trim().toLowerCase(), params: map };
}

function decodeTransfer(body: Buffer, encoding: string): Buffer {
  const enc = encoding.toLowerCase();
  if (enc === "base64") return Buffer.from(body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, ""), "base64");
  if (enc === "quoted-printable") {
    const text = body.toString("latin1").replace(/=\r?\n/g, "");
    return Buffer.from(text.replace(/=([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1");
  }
  return body;
}

interface Walk {
  text: string | null;
  html: string | null;
  attachments: number;
}

function walk(raw: Buffer, into: Walk, depth: number): void {
  const { head, body } = splitHeaderBlock(raw);
  const fields = readHeaders(head);
  const ct = params(header(fields, "content-type") ?? "text/plain");
  const disposition = params(header(fields, "content-disposition") ?? "");
  if (disposition.type === "attachment" || disposition.params.has("filename")) {
    into.attachments += 1;
    return;
  }
  if (ct.type.startsWith("multipart/") && depth < 10) {
    const boundary = ct.params.get("boundary");
    if (!boundary) return;
    const text = body.toString("latin1");
    const marker = `--${boundary}`;
    const pieces = text.split(marker).slice(1);
    for (const piece of pieces) {
      if (piece.startsWith("--")) break;
      walk(Buffer.from(piece.replace(/^\r?\n/, "").replace(/\r?\n$/, ""), "latin1"), into, depth + 1);
    }
    return;
  }
  const charset = ct.params.get("charset") ?? "utf-8";
  const decoded = () => decodeBytes(decodeTransfer(body, header(fields, "content-transfer-encoding") ?? "7bit"), charset);
  if (ct.type === "text/plain" && into.text === null) into.text = decoded();
  else if (ct.type === "text/html" && into.html === null) into.html = decoded();
  else if (!ct.type.startsWith("text/") && !ct.type.startsWith("multipart/")) into.attachments += 1;
}

export function parseMime(raw: Buffer): ParsedMime {
  const { head } = splitHeaderBlock(raw);
  const headers = readHeaders(head);
  const bodies: Walk = { text: null, html: null, attachments: 0 };
  walk(raw, bodies, 0);
  const date = header(headers, "date");
  const parsedDate = date ? new Date(date.replace(/\s*\([^)]*\)\s*$/, "")) : null;
  const ids = (v: string | undefined) => (v ?? "").match(/<[^>]+>/g) ?? [];
  return {
    headers: headers.map((h) => ({ name: h.name, value: decodeWords(h.value) })),
    subject: decodeWords(header(headers, "subject") ?? ""),
    from: parseAddressList(header(headers, "from"))[0] ?? null,
    sender: parseAddressList(header(headers, "sender"))[0] ?? null,
    to: parseAddressList(header(headers, "to")),
    cc: parseAddressList(header(headers, "cc")),
    bcc: parseAddressList(header(headers, "bcc")),
    replyTo: parseAddressList(header(headers, "reply-to")),
    messageId: (header(headers, "message-id") ?? "").trim(),
    inReplyTo: ids(header(headers, "in-reply-to"))[0] ?? "",
    references: ids(header(headers, "references")),
    date: parsedDate && !Number.isNaN(parsedDate.getTime()) ? parsedDate : null,
    text: bodies.text,
    html: bodies.html,
    hasAttachments: bodies.attachments > 0,
  };
}

/** The bytes with the named header fields (and their folded lines) taken out: Bcc is not delivered to recipients. */
export function withoutHeaders(raw: Buffer, names: string[]): Buffer {
  const { head, body } = splitHeaderBlock(raw);
  const eol = head.includes("\r\n") || raw.indexOf("\r\n") !== -1 ? "\r\n" : "\n";
  const drop = new Set(names.map((n) => n.toLowerCase()));
  const kept: string[] = [];
  let dropping = false;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    const name = line.slice(0, Math.max(0, line.indexOf(":"))).trim().toLowerCase();
    dropping = drop.has(name);
    if (!dropping) kept.push(line);
  }
  return Buffer.concat([Buffer.from(kept.join(eol) + eol + eol, "latin1"), body]);
}

/** Header fields put in front of the message, as Exchange stamps Date, From and Message-ID when a submitted MIME lacks them. */
export function withHeadersPrepended(raw: Buffer, fields: HeaderField[]): Buffer {
  if (fields.length === 0) return raw;
  const eol = raw.indexOf("\r\n") !== -1 ? "\r\n" : "\n";
  return Buffer.concat([Buffer.from(fields.map((f) => `${f.name}: ${f.value}${eol}`).join(""), "utf8"), raw]);
}

export function headerValue(raw: Buffer, name: string): string | undefined {
  return header(readHeaders(splitHeaderBlock(raw).head), name);
}

/** A header value safe for 7-bit transport: RFC 2047 B-encoding when it has anything beyond printable ASCII. */
export function encodeWord(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?utf-8?B?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

export function formatAddress(a: { name?: string | undefined; address: string }): string {
  if (!a.name || a.name === a.address) return a.address;
  const name = /^[\x20-\x7e]*$/.test(a.name) ? `"${a.name.replace(/(["\\])/g, "\\$1")}"` : encodeWord(a.name);
  return `${name} <${a.address}>`;
}

/** RFC 5322 date-time in UTC, as Exchange writes it: "Mon, 4 Sep 2017 10:00:00 +0000". */
export function rfc5322Date(d: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getUTCDay()] ?? ""}, ${d.getUTCDate()} ${months[d.getUTCMonth()] ?? ""} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Base64 in 76-character lines (RFC 2045 §6.8). */
export function base64Lines(data: Buffer): string {
  return (data.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
}

/** Plain text from HTML, for bodyPreview and text bodies: tags out, entities and whitespace collapsed. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, "\n")
    .replace(/<[^>]+>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
