import { createHash, type Hash } from "node:crypto";
import { headerValues, type HeaderBlock } from "./header-block.js";

/**
 * The same message delivered again (another UID, another folder, a second mailbox) has the same key;
 * a Message-ID reused for different content does not. What changes on redelivery — trace headers
 * (Received, Return-Path, Delivered-To, X-*), line endings, trailing blank lines — is left out.
 */

const contentHeaders = ["from", "to", "cc", "subject", "date"];
const CR = 0x0d;

function isTrailingSpace(byte: number | undefined): boolean {
  return byte === 0x0a || byte === CR || byte === 0x20 || byte === 0x09;
}

/** Hashes body bytes without CRs and without trailing whitespace, without copying the body. */
function hashBody(hash: Hash, raw: Buffer, bodyStart: number): void {
  let end = raw.length;
  while (end > bodyStart && isTrailingSpace(raw[end - 1])) end--;
  let pos = bodyStart;
  while (pos < end) {
    const cr = raw.indexOf(CR, pos);
    const stop = cr === -1 || cr >= end ? end : cr;
    if (stop > pos) hash.update(raw.subarray(pos, stop));
    pos = stop + 1;
  }
}

export interface DedupInput {
  raw: Buffer;
  header: HeaderBlock;
  messageId: string | null;
  /** set when only the header block was fetched: the declared size then stands in for the body */
  truncatedSize: number | null;
}

export function dedupKey({ raw, header, messageId, truncatedSize }: DedupInput): string {
  const content = createHash("sha256");
  for (const name of contentHeaders) {
    for (const value of headerValues(header, name)) content.update(`${name}:${value.replace(/\s+/g, " ").trim()}\n`);
  }
  content.update("\n");
  if (truncatedSize === null) hashBody(content, raw, header.bodyStart);
  else content.update(`truncated:${truncatedSize}`);
  return createHash("sha256")
    .update(`${messageId ?? ""}\n`)
    .update(content.digest("hex"))
    .digest("hex");
}
