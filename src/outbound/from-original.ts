/**
 * Everything a reply or a forward takes from the customer's message: subject, thread ids,
 * recipients, and the original below the agent's text (quoted under an attribution line in a
 * reply, under a "Forwarded message" block in a forward). All of it is customer-written, so it is
 * cleaned here, never refused (the agent cannot mend what the customer sent): made one line
 * wherever a line is expected, HTML-escaped wherever it goes into HTML.
 */

import { cleanLine, cleanText } from "../ingest/clean-text.js";
import { messageIds } from "../ingest/message-ids.js";
import { isEmailAddress, type Address } from "../shared/email-address.js";

/** The part of the customer's message that replying and forwarding read. */
export interface OriginalMessage {
  /** without angle brackets */
  internetMessageId: string | null;
  /** its References ids, without brackets, oldest first */
  references: string[];
  subject: string;
  /** null when it had no From; a From with only a name has address "" */
  from: Address | null;
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  /** ISO 8601 */
  receivedAt: string;
  /** plain text, for the quote */
  text: string;
  /** sanitized HTML, for an HTML quote */
  html: string | null;
}

// "Re[2]:", "AW:", "SV :" (Scandinavian), "Antw:" (Dutch), "Odp:" (Polish): a reply to a reply
// keeps one prefix, as mail clients do, instead of growing "Re: Re: Re:"
const replyPrefix = /^\s*(?:re|aw|sv|antw|odp)\s*(?:\[\d+\])?\s*:/i;
// "Fwd:", "FW:", "WG:" (German), "TR:" (French), "RV:" (Spanish)
const forwardPrefix = /^\s*(?:fwd?|wg|tr|rv)\s*(?:\[\d+\])?\s*:/i;

/**
 * "Re: " before the original subject unless it already is a reply's; a message without a subject
 * is answered with a bare "Re:", what Outlook and Thunderbird send, not with an invented text
 * in some language.
 */
export function replySubject(originalSubject: string): string {
  return prefixed(originalSubject, replyPrefix, "Re:");
}

export function forwardSubject(originalSubject: string): string {
  return prefixed(originalSubject, forwardPrefix, "Fwd:");
}

function prefixed(originalSubject: string, existing: RegExp, prefix: string): string {
  const subject = cleanLine(originalSubject);
  if (!subject) return prefix;
  return existing.test(subject) ? subject : `${prefix} ${subject}`;
}

/**
 * References never grow without bound in a long thread: the first id (the thread's root) and the
 * most recent ones are what threading uses, so the middle goes, as Thunderbird and Gmail trim it.
 */
const maxReferences = 20;

export interface Threading {
  inReplyTo: string | null;
  references: string[];
}

/**
 * RFC 5322 3.6.4: In-Reply-To is the original's Message-ID, References its References followed
 * by its Message-ID. An original without a (usable) Message-ID still passes its References on, so
 * the answer stays in the thread the customer's client knows.
 */
export function threadingOf(original: OriginalMessage): Threading {
  // the ids come from Mailroom's store already clean; put through the header reader again so that
  // nothing with a space, a bracket or a line break can reach a header
  const messageId = original.internetMessageId === null ? null : (messageIds([`<${original.internetMessageId}>`])[0] ?? null);
  const chain = messageIds([...original.references, ...(messageId === null ? [] : [messageId])].map((id) => `<${id}>`));
  const references = chain.length <= maxReferences ? chain : [chain[0]!, ...chain.slice(chain.length - (maxReferences - 1))];
  return { inReplyTo: messageId, references };
}

/** Lower-cased domain, local part as written (it is case-sensitive by the letter of RFC 5321). */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? address : address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
}

/** The key two addresses are the same recipient by: mail servers treat local parts case-insensitively. */
export function addressKey(address: string): string {
  return address.toLowerCase();
}

/** Addresses of the original that can be written to: cleaned names, valid addresses only. */
function usable(addresses: readonly (Address | null)[]): Address[] {
  return addresses.flatMap((entry) =>
    entry && isEmailAddress(entry.address.trim()) ? [{ address: normalizeAddress(entry.address.trim()), name: cleanLine(entry.name, 200) }] : [],
  );
}

/** First occurrence kept (with its display name), later ones and those in `taken` dropped. */
export function withoutDuplicates(addresses: readonly Address[], taken: Set<string> = new Set()): Address[] {
  const kept: Address[] = [];
  for (const entry of addresses) {
    const key = addressKey(entry.address);
    if (taken.has(key)) continue;
    taken.add(key);
    kept.push(entry);
  }
  return kept;
}

export interface ReplyRecipients {
  to: Address[];
  cc: Address[];
}

/**
 * Reply: to the Reply-To the customer asked for, else to the From. Reply all, as Outlook and
 * Thunderbird do it: the original's To join the To and its Cc stay Cc, and none of our own
 * addresses (the mailbox the message came to, the From we answer with) get a copy of our answer.
 */
export function replyRecipients(
  kind: "reply" | "replyAll",
  original: OriginalMessage,
  ownAddresses: ReadonlySet<string>,
  fromAddress: string,
): ReplyRecipients {
  const replyTo = usable(original.replyTo);
  const primary = replyTo.length > 0 ? replyTo : usable([original.from]);
  if (kind === "reply") return { to: withoutDuplicates(primary), cc: [] };
  const ours = new Set([...ownAddresses].map(addressKey));
  ours.add(addressKey(fromAddress));
  const notOurs = (entry: Address) => !ours.has(addressKey(entry.address));
  const taken = new Set<string>();
  const to = withoutDuplicates([...primary, ...usable(original.to)].filter(notOurs), taken);
  const cc = withoutDuplicates(usable(original.cc).filter(notOurs), taken);
  return { to, cc };
}

/** Display names the original gives its participants, for recipients the agent typed as bare addresses. */
export function knownNames(original: OriginalMessage | null): Map<string, string> {
  const names = new Map<string, string>();
  if (!original) return names;
  for (const entry of usable([original.from, ...original.replyTo, ...original.to, ...original.cc])) {
    const key = addressKey(entry.address);
    if (entry.name && !names.has(key)) names.set(key, entry.name);
  }
  return names;
}

// The quote and the forwarded block

/**
 * "Mon, 3 Mar 2025 at 14:05 GMT+1" or "… at 13:05 UTC", in the zone given (UTC by default): the offset is written out
 * because the reader may be in another zone than the agent. Null for a date that does not parse.
 */
function quoteDate(iso: string, timeZone = "UTC"): string | null {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "shortOffset",
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((entry) => entry.type === type)?.value ?? "";
  // ICU writes UTC itself as "GMT" or "GMT+0"
  const zone = /^GMT(\+0)?$/.test(part("timeZoneName")) ? "UTC" : part("timeZoneName");
  return `${part("weekday")}, ${part("day")} ${part("month")} ${part("year")} at ${part("hour")}:${part("minute")} ${zone}`;
}

/** "Jane Doe <jane@example.com>", or whichever of the two there is. */
function person(address: Address | null): string {
  const name = cleanLine(address?.name ?? "", 200);
  const mailbox = cleanLine(address?.address ?? "", 254);
  if (name && mailbox) return `${name} <${mailbox}>`;
  return name || mailbox;
}

function people(addresses: readonly Address[]): string {
  return addresses.map(person).filter(Boolean).join(", ");
}

function attribution(original: OriginalMessage, timeZone?: string): string {
  const who = person(original.from) || "the sender";
  const date = quoteDate(original.receivedAt, timeZone);
  return date === null ? `${who} wrote:` : `On ${date}, ${who} wrote:`;
}

/** The text without trailing blank lines and spaces, line endings as LF, no controls but tab. */
function tidy(text: string): string {
  return cleanText(text).replace(/\s+$/, "");
}

/** Sections of a body, separated by a blank line; an empty agent text leaves no blank lines at the top. */
function joinSections(sections: string[]): string {
  return `${sections.filter((section) => section !== "").join("\n\n")}\n`;
}

export function replyText(agentText: string, original: OriginalMessage, timeZone?: string): string {
  const body = tidy(original.text);
  const quoted = body === "" ? [] : body.split("\n").map((line) => `> ${line}`);
  return joinSections([tidy(agentText), [attribution(original, timeZone), ...quoted].join("\n")]);
}

const forwardMarker = "---------- Forwarded message ---------";

function forwardHeaderLines(original: OriginalMessage, timeZone?: string): [label: string, value: string][] {
  const lines: [string, string][] = [
    ["From", person(original.from)],
    ["Date", quoteDate(original.receivedAt, timeZone) ?? ""],
    ["Subject", cleanLine(original.subject)],
    ["To", people(original.to)],
    ["Cc", people(original.cc)],
  ];
  return lines.filter(([, value]) => value !== "");
}

export function forwardText(agentText: string, original: OriginalMessage, timeZone?: string): string {
  const header = [forwardMarker, ...forwardHeaderLines(original, timeZone).map(([label, value]) => `${label}: ${value}`)].join("\n");
  return joinSections([tidy(agentText), header, tidy(original.text)]);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function textAsHtml(text: string): string {
  return escapeHtml(tidy(text)).replace(/\n/g, "<br>\n");
}

/** The original as HTML: its sanitized HTML (the body's content when it is a whole document), else its text. */
function originalHtml(original: OriginalMessage): string {
  const html = original.html;
  if (html === null || html.trim() === "") return textAsHtml(original.text);
  // simple searches, no pattern that backtracks: this is the customer's HTML, and a backtracking
  // pattern can be made to take quadratic time on it
  const open = /<body/i.exec(html)?.index ?? -1;
  const contentStart = open < 0 ? -1 : html.indexOf(">", open) + 1;
  const contentEnd = lastIndexOf(html, /<\/body>/gi);
  return contentStart > 0 && contentEnd >= contentStart ? html.slice(contentStart, contentEnd) : html;
}

/** Where the last match of a global pattern starts, -1 without one (case-insensitively, unlike String.lastIndexOf). */
function lastIndexOf(text: string, pattern: RegExp): number {
  let last = -1;
  for (const match of text.matchAll(pattern)) last = match.index;
  return last;
}

/** Inside the agent's document when it is a whole one, so nothing follows its </html>. */
function appendToHtml(agentHtml: string, addition: string): string {
  const bodyEnd = lastIndexOf(agentHtml, /<\/body>/gi);
  return bodyEnd < 0 ? agentHtml + addition : agentHtml.slice(0, bodyEnd) + addition + agentHtml.slice(bodyEnd);
}

// the quote style Gmail and Thunderbird use, inline because mail clients drop <style> blocks
const blockquoteStyle = "margin:0 0 0 0.8ex;border-left:1px solid #ccc;padding-left:1ex";

export function replyHtml(agentHtml: string, original: OriginalMessage, timeZone?: string): string {
  const quote =
    `<br>\n<div class="mailroom-quote"><div>${escapeHtml(attribution(original, timeZone))}</div>\n` +
    `<blockquote style="${blockquoteStyle}">\n${originalHtml(original)}\n</blockquote></div>\n`;
  return appendToHtml(agentHtml, quote);
}

export function forwardHtml(agentHtml: string, original: OriginalMessage, timeZone?: string): string {
  const header = forwardHeaderLines(original, timeZone)
    .map(([label, value]) => `${label}: ${escapeHtml(value)}<br>\n`)
    .join("");
  const block = `<br>\n<div class="mailroom-forward">${forwardMarker}<br>\n${header}<br>\n${originalHtml(original)}\n</div>\n`;
  return appendToHtml(agentHtml, block);
}
