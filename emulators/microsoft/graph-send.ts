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
import type { User } from "./state.js";

/** One message sendMail accepted, as GET /_emulator/sent lists it. */
export interface SentRecord {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  /** the MIME as submitted (after Exchange's stamping of Date, From, Message-ID), base64 */
  mime: string;
  at: string;
}

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

interface Submission {
  mime: Buffer;
  to: Address[];
  cc: Address[];
  bcc: Address[];
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

/** The MIME form: base64 of the whole message, Content-Type text/plain; Exchange stamps what a submission lacks. */
function fromMime(ctx: EmulatorContext, user: User, raw: Buffer): Outcome<Submission> {
  const text = raw.toString("latin1").replace(/\s+/g, "");
  const invalid = graphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.");
  if (text === "" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return { ok: false, response: invalid };
  const submitted = Buffer.from(text, "base64");
  if (!looksLikeMime(submitted)) return { ok: false, response: invalid };
  const info = parseMime(submitted);
  if (info.from && info.from.address.toLowerCase() !== user.mail.toLowerCase()) return { ok: false, response: sendAsDenied() };
  const stamps: HeaderField[] = [];
  if (!info.from) stamps.push({ name: "From", value: formatAddress({ name: user.displayName, address: user.mail }) });
  if (headerValue(submitted, "date") === undefined) stamps.push({ name: "Date", value: rfc5322Date(ctx.state.now()) });
  if (!info.messageId) stamps.push({ name: "Message-ID", value: newMessageId() });
  const mime = withHeadersPrepended(submitted, stamps);
  if (info.to.length + info.cc.length + info.bcc.length === 0 || [...info.to, ...info.cc, ...info.bcc].some((a) => !ADDRESS.test(a.address))) {
    return { ok: false, response: invalidRecipients() };
  }
  return { ok: true, value: { mime, to: info.to, cc: info.cc, bcc: info.bcc, saveToSentItems: true } };
}

/** POST /users/{id}/sendMail and /me/sendMail, plus GET /_emulator/sent. */
export function sendMailRoutes(ctx: EmulatorContext): Route[] {
  const sent: SentRecord[] = [];
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
    const { mime, to, cc, bcc, saveToSentItems } = submission.value;
    sent.push({
      from: user.mail,
      to: to.map((a) => a.address),
      cc: cc.map((a) => a.address),
      bcc: bcc.map((a) => a.address),
      mime: mime.toString("base64"),
      at: ctx.state.now().toISOString(),
    });
    if (saveToSentItems) addMessage(ctx, { userId: user.id, folder: "sentitems", mime, isRead: true });
    // recipients who are users of the emulator get it in their Inbox, without the Bcc header, once each
    const delivered = withoutHeaders(mime, ["bcc"]);
    const seen = new Set<string>();
    for (const a of [...to, ...cc, ...bcc]) {
      const found = ctx.state.findUser(a.address);
      if (!found || seen.has(found.user.id)) continue;
      seen.add(found.user.id);
      addMessage(ctx, { userId: found.user.id, folder: "inbox", mime: delivered, isRead: false });
    }
    // 202: accepted; the emulator has already stored the copies, where Exchange takes a moment
    return { status: 202, headers: { "request-id": crypto.randomUUID() } };
  };
  return [
    { method: "POST", pattern: "/v1.0/users/:user/sendMail", kind: "graph", handler },
    { method: "POST", pattern: "/v1.0/me/sendMail", kind: "graph", handler },
    { method: "GET", pattern: "/_emulator/sent", kind: "control", handler: () => json(200, sent) },
  ];
}
