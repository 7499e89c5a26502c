import { createHash } from "node:crypto";
import { readHeaderBlock, type HeaderBlock } from "./header-block.js";

/**
 * The content fingerprint of a message: a hash of its bytes exactly as the server holds them, apart
 * from the trace header fields that change each time a message is delivered (Received, Return-Path,
 * Delivered-To, spam verdicts, the status fields some servers add). Two messages with the same
 * fingerprint are the same bytes; whether that makes them the same message is the ingest rule's call
 * (a redelivery also needs the same Message-ID; see ingest.service.ts).
 */

const traceFields = new Set([
  "received",
  "return-path",
  "delivered-to",
  "x-original-to",
  "envelope-to",
  "received-spf",
  "authentication-results",
  "x-received",
  "x-originating-ip",
  // status fields mbox-style servers add and change as a message is read
  "status",
  "x-status",
  "x-keywords",
  "x-uid",
  "x-imap",
  "x-imapbase",
  "content-length",
  "lines",
]);

const tracePrefixes = ["arc-", "x-spam-", "x-virus-", "x-envelope-", "x-ms-exchange-organization-", "x-microsoft-antispam", "x-forefront-antispam"];

function isTrace(name: string): boolean {
  return traceFields.has(name) || tracePrefixes.some((prefix) => name.startsWith(prefix));
}

const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

function fieldName(raw: Buffer, from: number, to: number): string {
  const colon = raw.indexOf(COLON, from);
  const end = colon === -1 || colon > to ? to : colon;
  return raw.toString("latin1", from, end).trim().toLowerCase();
}

/**
 * `truncatedSize` is set when only the header block was fetched (the message was over Max size): the
 * size the server declared then stands in for the body.
 */
export function contentFingerprint(raw: Buffer, truncatedSize: number | null, header: HeaderBlock = readHeaderBlock(raw)): string {
  const hash = createHash("sha256");
  let pos = header.start;
  let keep = true;
  while (pos < header.end) {
    const lf = raw.indexOf(LF, pos);
    const next = lf === -1 || lf >= header.end ? header.end : lf + 1;
    const continuation = raw[pos] === SP || raw[pos] === HT;
    if (!continuation) keep = !isTrace(fieldName(raw, pos, next));
    if (keep) hash.update(raw.subarray(pos, next));
    pos = next;
  }
  // what separates the header block from the body, and the body, byte for byte
  hash.update(truncatedSize === null ? "\u0000body\u0000" : `\u0000truncated:${truncatedSize}\u0000`);
  hash.update(raw.subarray(header.end));
  return hash.digest("hex");
}

/**
 * The fingerprint of a message as a connector hands it over; parse and repair both use this one.
 * `header` is the message's header block when the caller has read it already.
 */
export function messageFingerprint(message: { raw: Buffer; size: number; truncated: boolean }, header?: HeaderBlock): string {
  return contentFingerprint(message.raw, message.truncated ? Math.max(message.size, message.raw.length) : null, header);
}
