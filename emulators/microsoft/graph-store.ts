import { createHash, randomBytes } from "node:crypto";
import type { EmulatorContext } from "./context.js";
import { escapeHtml, htmlToText, parseMime, type Address, type ParsedMime } from "./graph-mime.js";
import type { StoredMessage } from "./state.js";

/** Graph's well-known folder names (https://learn.microsoft.com/graph/api/resources/mailfolder), the ones the emulator has. */
export const wellKnownFolders: Record<string, string> = {
  inbox: "Inbox",
  sentitems: "Sent Items",
  drafts: "Drafts",
  deleteditems: "Deleted Items",
};

/** Graph ids are opaque base64 strings; folder ids stay the same for a user across restarts, which Graph's do too. */
export function folderId(userId: string, folder: string): string {
  return `AAMkA${createHash("sha256").update(`${userId}/${folder}`).digest("base64url").slice(0, 40)}AAA=`;
}

const msgRootFolderId = (userId: string) => folderId(userId, "msgfolderroot");

/** The well-known name a path's folder segment names: the name itself (any case) or the folder's id; null: no such folder. */
export function resolveFolder(userId: string, segment: string): string | null {
  const name = segment.toLowerCase();
  if (name in wellKnownFolders) return name;
  for (const f of Object.keys(wellKnownFolders)) if (folderId(userId, f) === segment) return f;
  return null;
}

export function folderJson(ctx: EmulatorContext, userId: string, folder: string): Record<string, unknown> {
  const messages = ctx.state.folderMessages(userId, folder).filter((m) => !m.deleted);
  return {
    id: folderId(userId, folder),
    displayName: wellKnownFolders[folder],
    parentFolderId: msgRootFolderId(userId),
    childFolderCount: 0,
    unreadItemCount: messages.filter((m) => !m.isRead).length,
    totalItemCount: messages.length,
    sizeInBytes: messages.reduce((n, m) => n + m.mime.length, 0),
    isHidden: false,
  };
}

/** Exchange's changeKey is base64 that changes with every write; the etag is it in W/"..." form. */
function newChangeKey(): string {
  return `CQAAABYAAAA${randomBytes(18).toString("base64")}`;
}

function newMessageId(): string {
  return `AAMkA${randomBytes(42).toString("base64url")}AAA=`;
}

/** Graph writes timestamps in UTC without fractions: 2018-09-09T03:15:08Z. */
export function graphTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

const parsed = new WeakMap<StoredMessage, ParsedMime>();

export function parsedOf(m: StoredMessage): ParsedMime {
  let p = parsed.get(m);
  if (!p) {
    p = parseMime(m.mime);
    parsed.set(m, p);
  }
  return p;
}

export interface NewMessage {
  userId: string;
  folder: string;
  mime: Buffer;
  isRead: boolean;
}

/** Stores a message as Exchange would on delivery or on saving a sent copy, and announces it. */
export function addMessage(ctx: EmulatorContext, input: NewMessage): StoredMessage {
  const now = graphTime(ctx.state.now());
  const seq = ctx.state.nextChangeSeq();
  const info = parseMime(input.mime);
  const message: StoredMessage = {
    id: newMessageId(),
    userId: input.userId,
    folder: input.folder,
    mime: input.mime,
    subject: info.subject,
    from: info.from?.address ?? "",
    internetMessageId: info.messageId,
    receivedDateTime: now,
    createdDateTime: now,
    lastModifiedDateTime: now,
    isRead: input.isRead,
    changeKey: newChangeKey(),
    changeSeq: seq,
    createdSeq: seq,
    contentSeq: seq,
    deleted: false,
  };
  parsed.set(message, info);
  ctx.state.messages.set(message.id, message);
  ctx.changes.emit("change", { userId: message.userId, folder: message.folder, messageId: message.id, changeType: "created" });
  return message;
}

/**
 * A write to a message: new changeKey, lastModifiedDateTime and place in the change log, then the "updated" event.
 * `readFlagOnly`: nothing but isRead changed (EWS sync reports that as a ReadFlagChange).
 */
export function touchMessage(ctx: EmulatorContext, message: StoredMessage, readFlagOnly = false): void {
  message.lastModifiedDateTime = graphTime(ctx.state.now());
  message.changeKey = newChangeKey();
  message.changeSeq = ctx.state.nextChangeSeq();
  if (!readFlagOnly) message.contentSeq = message.changeSeq;
  ctx.changes.emit("change", { userId: message.userId, folder: message.folder, messageId: message.id, changeType: "updated" });
}

/** Whether Exchange refuses to hand over this message's content (POST /_emulator/refuse): a corrupt item. */
export function isRefused(ctx: EmulatorContext, message: StoredMessage): boolean {
  const text = message.mime.toString("latin1");
  return ctx.state.refusedMime.some((r) => r.userId === message.userId && text.includes(r.marker));
}

/** Marks a message read or unread, as Graph's PATCH and EWS UpdateItem do; an unchanged flag is no write. True: it changed. */
export function setReadFlag(ctx: EmulatorContext, message: StoredMessage, isRead: boolean): boolean {
  if (message.isRead === isRead) return false;
  message.isRead = isRead;
  touchMessage(ctx, message, true);
  return true;
}

/**
 * DELETE. Graph moves the message to Deleted Items under a new id; the emulator keeps it where it was, marked deleted, so
 * that delta on the folder can report it as removed. Deleted Items therefore stays empty (a known difference).
 */
export function deleteMessage(ctx: EmulatorContext, message: StoredMessage): void {
  message.deleted = true;
  message.lastModifiedDateTime = graphTime(ctx.state.now());
  message.changeSeq = ctx.state.nextChangeSeq();
  ctx.changes.emit("change", { userId: message.userId, folder: message.folder, messageId: message.id, changeType: "deleted" });
}

const recipient = (a: Address) => ({ emailAddress: { name: a.name, address: a.address } });

/** Up to 255 characters of the body's text, whitespace collapsed, as bodyPreview is. */
function preview(info: ParsedMime): string {
  const text = info.text ?? (info.html === null ? "" : htmlToText(info.html));
  return text.replace(/\s+/g, " ").trim().slice(0, 255);
}

function body(info: ParsedMime, preferText: boolean): { contentType: string; content: string } {
  if (preferText) return { contentType: "text", content: info.text ?? (info.html === null ? "" : htmlToText(info.html)) };
  // Graph returns HTML unless Prefer: outlook.body-content-type="text"; a text-only message comes back wrapped in HTML
  if (info.html !== null) return { contentType: "html", content: info.html };
  const wrapped = `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n<body>\r\n<div>${escapeHtml(info.text ?? "").replace(/\r?\n/g, "<br>\r\n")}</div>\r\n</body>\r\n</html>\r\n`;
  return { contentType: "html", content: wrapped };
}

/** The thread a message belongs to: the first of References, else In-Reply-To, else itself. */
function conversationId(info: ParsedMime, fallback: string): string {
  const root = info.references[0] ?? (info.inReplyTo || info.messageId || fallback);
  return `AAQkA${createHash("sha256").update(root).digest("base64url").slice(0, 30)}=`;
}

/** Every property the emulator can return, in the order Graph lists them; internetMessageHeaders only when selected. */
export const messageProperties = [
  "createdDateTime",
  "lastModifiedDateTime",
  "changeKey",
  "categories",
  "receivedDateTime",
  "sentDateTime",
  "hasAttachments",
  "internetMessageId",
  "subject",
  "bodyPreview",
  "importance",
  "parentFolderId",
  "conversationId",
  "isDeliveryReceiptRequested",
  "isReadReceiptRequested",
  "isRead",
  "isDraft",
  "webLink",
  "inferenceClassification",
  "body",
  "sender",
  "from",
  "toRecipients",
  "ccRecipients",
  "bccRecipients",
  "replyTo",
  "flag",
  "internetMessageHeaders",
];

/** The message resource (https://learn.microsoft.com/graph/api/resources/message), or the $select'ed part of it. */
export function messageJson(m: StoredMessage, select: string[] | null, preferText = false): Record<string, unknown> {
  const info = parsedOf(m);
  const from = info.from ? recipient(info.from) : null;
  const all: Record<string, () => unknown> = {
    createdDateTime: () => m.createdDateTime,
    lastModifiedDateTime: () => m.lastModifiedDateTime,
    changeKey: () => m.changeKey,
    categories: () => [],
    receivedDateTime: () => m.receivedDateTime,
    sentDateTime: () => (info.date ? graphTime(info.date) : m.receivedDateTime),
    hasAttachments: () => info.hasAttachments,
    internetMessageId: () => m.internetMessageId,
    subject: () => m.subject,
    bodyPreview: () => preview(info),
    importance: () => "normal",
    parentFolderId: () => folderId(m.userId, m.folder),
    conversationId: () => conversationId(info, m.id),
    isDeliveryReceiptRequested: () => false,
    isReadReceiptRequested: () => false,
    isRead: () => m.isRead,
    isDraft: () => m.folder === "drafts",
    webLink: () => `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(m.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    inferenceClassification: () => "focused",
    body: () => body(info, preferText),
    sender: () => (info.sender ? recipient(info.sender) : from),
    from: () => from,
    toRecipients: () => info.to.map(recipient),
    ccRecipients: () => info.cc.map(recipient),
    bccRecipients: () => info.bcc.map(recipient),
    replyTo: () => info.replyTo.map(recipient),
    flag: () => ({ flagStatus: "notFlagged" }),
    internetMessageHeaders: () => info.headers.map((h) => ({ name: h.name, value: h.value })),
  };
  const names = select ?? messageProperties.filter((p) => p !== "internetMessageHeaders");
  const out: Record<string, unknown> = { "@odata.etag": `W/"${m.changeKey}"`, id: m.id };
  for (const name of names) {
    const canonical = messageProperties.find((p) => p.toLowerCase() === name.toLowerCase());
    if (canonical && canonical in all) out[canonical] = (all[canonical] as () => unknown)();
  }
  return out;
}
