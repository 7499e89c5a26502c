import { randomBytes } from "node:crypto";
import { graphError, json, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type Route } from "./context.js";
import { authorizeMailbox, mailSend, type Outcome } from "./graph-auth.js";
import {
  base64Lines,
  encodeWord,
  formatAddress,
  headerValue,
  looksLikeMime,
  parseMime,
  rfc5322Date,
  withHeadersPrepended,
  withoutHeaders,
  type Address,
  type HeaderField,
} from "./graph-mime.js";
import { addMessage } from "./graph-store.js";
import type { SentRecord, User } from "./state.js";

export type { SentRecord };

interface JsonRecipient {
  emailAddress?: { name?: string; address?: string };
}

interface JsonMessage {
  subject?: string;
  body?: { contentType?: string; content?: string };
  toRecipients?: JsonRecipient[];
  ccRecipients?: JsonRecipient[];
  bccRecipients?: JsonRecipient[];
  replyTo?: JsonRecipient[];
  from?: JsonRecipient;
  internetMessageHeaders?: { name?: string; value?: string }[];
}

/** A message ready to go: the MIME as it will be sent, and who it goes to. */
export interface Outgoing {
  mime: Buffer;
  to: Address[];
  cc: Address[];
  bcc: Address[];
}

interface Submission extends Outgoing {
  saveToSentItems: boolean;
}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

function invalidRecipients(): EmulatorResponse {
  return graphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid.");
}

function sendAsDenied(): EmulatorResponse {
  return graphError(
    403,
    "ErrorSendAsDenied",
    "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
  );
}

/** Exchange's Message-IDs name the mailbox server; the emulator's name itself. */
function newMessageId(): string {
  return `<${randomBytes(16).toString("hex").toUpperCase()}@emulator.prod.outlook.com>`;
}

function recipients(list: JsonRecipient[] | undefined): Address[] | null {
  const out: Address[] = [];
  for (const r of list ?? []) {
    const address = r.emailAddress?.address?.trim() ?? "";
    if (!ADDRESS.test(address)) return null;
    out.push({ name: r.emailAddress?.name ?? "", address });
  }
  return out;
}

/** The JSON form (https://learn.microsoft.com/graph/api/user-sendmail): the emulator writes the MIME Exchange would. */
function fromJson(ctx: EmulatorContext, user: User, body: { message?: JsonMessage; saveToSentItems?: boolean | string }): Outcome<Submission> {
  const message = body.message;
  if (!message || typeof message !== "object") return { ok: false, response: graphError(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.") };
  const to = recipients(message.toRecipients);
  const cc = recipients(message.ccRecipients);
  const bcc = recipients(message.bccRecipients);
  const replyTo = recipients(message.replyTo);
  if (!to || !cc || !bcc || !replyTo || to.length + cc.length + bcc.length === 0) return { ok: false, response: invalidRecipients() };
  const fromAddress = message.from?.emailAddress?.address;
  if (fromAddress !== undefined && fromAddress.toLowerCase() !== user.mail.toLowerCase()) return { ok: false, response: sendAsDenied() };
  const custom: HeaderField[] = [];
  for (const h of message.internetMessageHeaders ?? []) {
    const name = h.name ?? "";
    // only custom headers may be set this way (https://learn.microsoft.com/graph/api/resources/internetmessageheader)
    if (!/^x-/i.test(name)) {
      return { ok: false, response: graphError(400, "InvalidInternetMessageHeader", `The internet message header name '${name}' should start with 'x-' or 'X-'.`) };
    }
    custom.push({ name, value: String(h.value ?? "") });
  }
  const html = (message.body?.contentType ?? "text").toLowerCase() === "html";
  const lines = [
    `From: ${formatAddress({ name: user.displayName, address: user.mail })}`,
    `Date: ${rfc5322Date(ctx.state.now())}`,
    `Subject: ${encodeWord(message.subject ?? "")}`,
    `Message-ID: ${newMessageId()}`,
    ...(to.length ? [`To: ${to.map(formatAddress).join(", ")}`] : []),
    ...(cc.length ? [`Cc: ${cc.map(formatAddress).join(", ")}`] : []),
    ...(bcc.length ? [`Bcc: ${bcc.map(formatAddress).join(", ")}`] : []),
    ...(replyTo.length ? [`Reply-To: ${replyTo.map(formatAddress).join(", ")}`] : []),
    ...custom.map((h) => `${h.name}: ${encodeWord(h.value)}`),
    "MIME-Version: 1.0",
    `Content-Type: ${html ? "text/html" : "text/plain"}; charset="utf-8"`,
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines(Buffer.from(message.body?.content ?? "", "utf8")),
    "",
  ];
  const save = body.saveToSentItems === undefined || (body.saveToSentItems !== false && String(body.saveToSentItems).toLowerCase() !== "false");
  return { ok: true, value: { mime: Buffer.from(lines.join("\r\n"), "utf8"), to, cc, bcc, saveToSentItems: save } };
}

/** Strict base64 of a whole MIME message, whitespace allowed between the characters; null when it is not that. */
export function decodeMimeBase64(raw: string): Buffer | null {
  const text = raw.replace(/\s+/g, "");
  if (text === "" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const submitted = Buffer.from(text, "base64");
  return looksLikeMime(submitted) ? submitted : null;
}

/**
 * A submitted MIME message (Graph's MIME sendMail, EWS CreateItem) made ready to send: it may not claim another
 * sender; Exchange stamps the From, Date and Message-ID it lacks; it needs at least one valid recipient.
 */
export function prepareMime(ctx: EmulatorContext, user: User, submitted: Buffer): { ok: true; value: Outgoing } | { ok: false; reason: "sendAsDenied" | "invalidRecipients" } {
  const info = parseMime(submitted);
  if (info.from && info.from.address.toLowerCase() !== user.mail.toLowerCase()) return { ok: false, reason: "sendAsDenied" };
  const stamps: HeaderField[] = [];
  if (!info.from) stamps.push({ name: "From", value: formatAddress({ name: user.displayName, address: user.mail }) });
  if (headerValue(submitted, "date") === undefined) stamps.push({ name: "Date", value: rfc5322Date(ctx.state.now()) });
  if (!info.messageId) stamps.push({ name: "Message-ID", value: newMessageId() });
  const mime = withHeadersPrepended(submitted, stamps);
  if (info.to.length + info.cc.length + info.bcc.length === 0 || [...info.to, ...info.cc, ...info.bcc].some((a) => !ADDRESS.test(a.address))) {
    return { ok: false, reason: "invalidRecipients" };
  }
  return { ok: true, value: { mime, to: info.to, cc: info.cc, bcc: info.bcc } };
}

/** The MIME form: base64 of the whole message, Content-Type text/plain; Exchange stamps what a submission lacks. */
function fromMime(ctx: EmulatorContext, user: User, raw: Buffer): Outcome<Submission> {
  const submitted = decodeMimeBase64(raw.toString("latin1"));
  if (!submitted) return { ok: false, response: graphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.") };
  const prepared = prepareMime(ctx, user, submitted);
  if (!prepared.ok) return { ok: false, response: prepared.reason === "sendAsDenied" ? sendAsDenied() : invalidRecipients() };
  return { ok: true, value: { ...prepared.value, saveToSentItems: true } };
}

/**
 * Sends as the user's mailbox, for Graph and EWS alike: a line in the sent log, a copy in `saveCopyTo` (Sent Items;
 * null: none), and one copy, without the Bcc header, in the Inbox of each recipient who is a user of the emulator.
 */
export function submitMessage(ctx: EmulatorContext, user: User, outgoing: Outgoing, options: { saveCopyTo: string | null; via: SentRecord["via"] }): void {
  const { mime, to, cc, bcc } = outgoing;
  ctx.state.sent.push({
    from: user.mail,
    to: to.map((a) => a.address),
    cc: cc.map((a) => a.address),
    bcc: bcc.map((a) => a.address),
    mime: mime.toString("base64"),
    at: ctx.state.now().toISOString(),
    via: options.via,
  });
  if (options.saveCopyTo !== null) addMessage(ctx, { userId: user.id, folder: options.saveCopyTo, mime, isRead: true });
  const delivered = withoutHeaders(mime, ["bcc"]);
  const seen = new Set<string>();
  for (const a of [...to, ...cc, ...bcc]) {
    const found = ctx.state.findUser(a.address);
    if (!found || seen.has(found.user.id)) continue;
    seen.add(found.user.id);
    addMessage(ctx, { userId: found.user.id, folder: "inbox", mime: delivered, isRead: false });
  }
}

/** POST /users/{id}/sendMail and /me/sendMail, plus GET /_emulator/sent (which lists what EWS sent too). */
export function sendMailRoutes(ctx: EmulatorContext): Route[] {
  const handler = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailSend);
    if (!auth.ok) return auth.response;
    const { user } = auth.value;
    const contentType = String(req.headers["content-type"] ?? "").toLowerCase();
    let submission: Outcome<Submission>;
    if (contentType.startsWith("text/plain")) {
      submission = fromMime(ctx, user, req.body);
    } else {
      if (req.body.length === 0) return graphError(400, "BadRequest", "Empty Payload. JSON content expected.");
      let body: unknown;
      try {
        body = JSON.parse(req.body.toString("utf8"));
      } catch {
        return graphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
      }
      submission = fromJson(ctx, user, (body ?? {}));
    }
    if (!submission.ok) return submission.response;
    const { saveToSentItems, ...outgoing } = submission.value;
    submitMessage(ctx, user, outgoing, { saveCopyTo: saveToSentItems ? "sentitems" : null, via: "graph" });
    // 202: accepted; the emulator has already stored the copies, where Exchange takes a moment
    return { status: 202, headers: { "request-id": crypto.randomUUID() } };
  };
  return [
    { method: "POST", pattern: "/v1.0/users/:user/sendMail", kind: "graph", handler },
    { method: "POST", pattern: "/v1.0/me/sendMail", kind: "graph", handler },
    { method: "GET", pattern: "/_emulator/sent", kind: "control", handler: () => json(200, ctx.state.sent) },
  ];
}
