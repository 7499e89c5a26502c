import { simpleParser, type Attachment, type SimpleParserOptions } from "mailparser";
import { addressList, firstAddress } from "./addresses.js";
import { cleanLine } from "./clean-text.js";
import type { Address } from "./types.js";

/**
 * The MIME parser behind a narrow interface. mailparser was measured against postal-mime on the
 * benchmark corpus (`bench/parsers.ts`) and was faster on small and on large messages alike, and it
 * decodes more legacy charsets (iconv-lite), so it is the one parser used.
 */

export interface MimePart {
  filename: string | null;
  /** lower case, without parameters */
  contentType: string;
  /** without angle brackets */
  contentId: string | null;
  content: Buffer;
}

export interface MimeContent {
  subject: string;
  from: Address;
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  text: string | null;
  html: string | null;
  attachments: MimePart[];
}

const parserOptions: SimpleParserOptions = {
  // cid: links stay for the API to rewrite; mailparser would inline them as data: URLs
  keepCidLinks: true,
  skipImageLinks: true,
  // Mailroom derives text from HTML itself (html-to-text.ts) and never needs text turned into HTML
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  checksumAlgo: false,
  // attached messages stay attachments (.eml), their text is not merged into the body
  ignoreEmbedded: true,
};

const mimeType = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

function contentTypeOf(attachment: Attachment): string {
  const type = (attachment.contentType ?? "").trim().toLowerCase();
  return mimeType.test(type) ? type : "application/octet-stream";
}

function contentIdOf(attachment: Attachment): string | null {
  const id = (attachment.cid ?? attachment.contentId ?? "").replace(/[\s<>]/g, "");
  return cleanLine(id, 998) || null;
}

export async function parseMime(raw: Buffer): Promise<MimeContent> {
  const mail = await simpleParser(raw, parserOptions);
  return {
    subject: cleanLine(mail.subject ?? ""),
    from: firstAddress(mail.from),
    to: addressList(mail.to),
    cc: addressList(mail.cc),
    replyTo: addressList(mail.replyTo),
    text: typeof mail.text === "string" ? mail.text : null,
    html: typeof mail.html === "string" ? mail.html : null,
    attachments: mail.attachments.map((attachment) => ({
      filename: attachment.filename ?? null,
      contentType: contentTypeOf(attachment),
      contentId: contentIdOf(attachment),
      content: attachment.content,
    })),
  };
}
