/**
 * Helpers for the EWS tests: SOAP requests written by hand over HTTPS that trusts only the emulator's CA, a reader of
 * the answers, and a reader of GetStreamingEvents streams. Test code only; the emulator does not use it.
 */
import { XMLParser } from "fast-xml-parser";
import type { ClientRequest, IncomingHttpHeaders } from "node:http";
import https from "node:https";
import type { StartedEmulator } from "./server.js";
import { graphToken, TENANT } from "./graph-test-support.js";
import type { AccessTokenClaims } from "./tokens.js";

export const NS_T = "http://schemas.microsoft.com/exchange/services/2006/types";
export const NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages";
export const NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/";

/** A request as most clients write it: soap:, t: and m: prefixes; `body` uses t: and m:. */
export function soap(body: string, header = ""): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${NS_SOAP}" xmlns:t="${NS_T}" xmlns:m="${NS_M}">` +
    `<soap:Header><t:RequestServerVersion Version="Exchange2016"/>${header}</soap:Header><soap:Body>${body}</soap:Body></soap:Envelope>`
  );
}

export const impersonate = (address: string) => `<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>${address}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`;

export const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`, "utf8").toString("base64")}`;

/** The default seed gives every test user the password `<mail>-password`. */
export const basicFor = (mail: string) => basic(mail, `${mail}-password`);

/** A token Entra would issue for Exchange Online: application (roles) or delegated (scp, for one user). */
export function ewsToken(
  emulator: StartedEmulator,
  grant: { roles: string[] } | { scp: string; user: { id: string; mail: string } },
  overrides: Partial<AccessTokenClaims> = {},
): string {
  return graphToken(emulator, grant, { aud: "https://outlook.office365.com", iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, ...overrides });
}

export interface EwsReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** name, value, name, value...: header lines as sent (Node joins repeated ones in `headers`) */
  rawHeaders: string[];
  text: string;
  /** the answer parsed, namespace prefixes dropped, attributes as "@Name" */
  doc: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever EWS answered
}

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  // values as sent: the header block ends in CRLF
  trimValues: false,
  isArray: (name) => /ResponseMessage$/.test(name) || ["Create", "Update", "Delete", "ReadFlagChange", "Notification", "Folder", "Message", "Mailbox"].includes(name),
});

export function parseSoap(text: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  return text.trim() === "" ? undefined : (parser.parse(text) as unknown);
}

type Tree = Record<string, unknown> | undefined;

/** Follows element names through a parsed answer. */
function dig(tree: unknown, ...names: string[]): unknown {
  let node = tree;
  for (const n of names) node = (node as Tree)?.[n];
  return node;
}

export interface EwsCallOptions {
  /** the Authorization header value */
  auth?: string;
  agent?: https.Agent;
  headers?: Record<string, string>;
}

/** The folder element of a request: a DistinguishedFolderId for a well-known name. */
export const folderXml = (folder: string) => `<t:DistinguishedFolderId Id="${folder}"/>`;

/** SyncFolderItems with IdOnly plus the properties a mail client syncs. */
export function syncXml(folder: string, max: number, syncState?: string): string {
  return soap(
    `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/>` +
      `<t:FieldURI FieldURI="item:Size"/><t:FieldURI FieldURI="item:DateTimeReceived"/><t:FieldURI FieldURI="message:IsRead"/></t:AdditionalProperties></m:ItemShape>` +
      `<m:SyncFolderId>${folderXml(folder)}</m:SyncFolderId>${syncState === undefined ? "" : `<m:SyncState>${syncState}</m:SyncState>`}` +
      `<m:MaxChangesReturned>${max}</m:MaxChangesReturned></m:SyncFolderItems>`,
  );
}

/** The changes of a SyncFolderItems answer in the order they came, read from the text (the parsed form groups them by kind). */
export function changesInOrder(reply: EwsReply): { kind: string; id: string }[] {
  return [...reply.text.matchAll(/<t:(Create|Update|Delete|ReadFlagChange)>(?:<t:Message>)?<t:ItemId Id="([^"]+)"/g)].map((m) => ({ kind: m[1] as string, id: m[2] as string }));
}

/** One POST to /EWS/Exchange.asmx. */
export function ews(emulator: StartedEmulator, xml: string, options: EwsCallOptions = {}): Promise<EwsReply> {
  const headers: Record<string, string> = { "content-type": "text/xml; charset=utf-8", ...options.headers };
  if (options.auth !== undefined) headers.authorization = options.auth;
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL("/EWS/Exchange.asmx", emulator.url),
      { method: "POST", headers, ca: emulator.caPem, ...(options.agent ? { agent: options.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, text, doc: parseSoap(text) as unknown });
        });
      },
    );
    req.on("error", reject);
    req.end(xml);
  });
}

/** Every line of one header, in order. */
export function headerLines(reply: EwsReply, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < reply.rawHeaders.length; i += 2) if (reply.rawHeaders[i]?.toLowerCase() === name) out.push(reply.rawHeaders[i + 1] as string);
  return out;
}

/** An element's text, whether the parser made it a string or an object with attributes. */
export function textOf(node: unknown): string | undefined {
  if (typeof node === "string") return node;
  const value = (node as Record<string, unknown> | undefined)?.["#text"];
  return typeof value === "string" ? value : undefined;
}

/** A SOAP fault's faultcode, detail ResponseCode and BackOffMilliseconds. */
export function fault(reply: EwsReply): { faultcode?: string; responseCode?: string; backOffMs?: string } {
  const f = dig(parseSoap(reply.text), "Envelope", "Body", "Fault");
  if (!f) throw new Error(`no SOAP fault in: ${reply.status} ${reply.text.slice(0, 500)}`);
  const out: { faultcode?: string; responseCode?: string; backOffMs?: string } = {};
  const faultcode = textOf(dig(f, "faultcode"));
  const responseCode = textOf(dig(f, "detail", "ResponseCode"));
  const backOff = textOf(dig(f, "detail", "MessageXml", "Value"));
  if (faultcode !== undefined) out.faultcode = faultcode;
  if (responseCode !== undefined) out.responseCode = responseCode;
  if (backOff !== undefined) out.backOffMs = backOff;
  return out;
}

/** The response messages of an operation's answer, in order. */
export function messages(reply: EwsReply, op: string): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const list = dig(parseSoap(reply.text), "Envelope", "Body", `${op}Response`, "ResponseMessages", `${op}ResponseMessage`);
  if (!Array.isArray(list)) throw new Error(`no ${op} response messages in: ${reply.status} ${reply.text.slice(0, 500)}`);
  return list;
}

/** The only response message of an answer that must be a success. */
export function success(reply: EwsReply, op: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  const first = messages(reply, op)[0] as Record<string, unknown>;
  if (first["@ResponseClass"] !== "Success") throw new Error(`${op} failed: ${String(first.ResponseCode)} ${String(first.MessageText)}`);
  return first;
}

/**
 * A GetStreamingEvents response read as it arrives: the complete envelopes so far, and waits for the next ones (each
 * bounded, so that a missing event fails the test instead of hanging it).
 */
export class StreamReader {
  readonly envelopes: string[] = [];
  status = 0;
  headers: IncomingHttpHeaders = {};
  ended = false;
  #buffer = "";
  #waiters = new Set<() => void>();
  #req: ClientRequest | null = null;

  /** Opens the stream; resolves once the status and headers are in. */
  open(emulator: StartedEmulator, xml: string, auth: string): Promise<this> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL("/EWS/Exchange.asmx", emulator.url),
        { method: "POST", headers: { "content-type": "text/xml; charset=utf-8", authorization: auth }, ca: emulator.caPem, agent: false },
        (res) => {
          this.status = res.statusCode ?? 0;
          this.headers = res.headers;
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            this.#buffer += chunk;
            let end: number;
            while ((end = this.#buffer.indexOf("</s:Envelope>")) !== -1) {
              this.envelopes.push(this.#buffer.slice(0, end + "</s:Envelope>".length));
              this.#buffer = this.#buffer.slice(end + "</s:Envelope>".length);
            }
            this.#wake();
          });
          const done = () => {
            this.ended = true;
            this.#wake();
          };
          res.on("end", done);
          res.on("close", done);
          resolve(this);
        },
      );
      req.on("error", (err) => {
        this.ended = true;
        this.#wake();
        reject(err);
      });
      this.#req = req;
      req.end(xml);
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #wait<T>(check: () => T | undefined, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return false;
        this.#waiters.delete(attempt);
        clearTimeout(guard);
        resolve(value);
        return true;
      };
      const guard = setTimeout(() => {
        this.#waiters.delete(attempt);
        reject(new Error(`waited for ${what}; got ${this.envelopes.length} envelope(s), ended: ${this.ended}`));
      }, 15_000);
      if (!attempt()) this.#waiters.add(attempt);
    });
  }

  /** The first envelope at index `from` or later that satisfies `match`. */
  next(match: (envelope: string) => boolean, from = 0, what = "an envelope"): Promise<{ index: number; envelope: string }> {
    return this.#wait(() => {
      for (let i = from; i < this.envelopes.length; i++) if (match(this.envelopes[i] as string)) return { index: i, envelope: this.envelopes[i] as string };
      return undefined;
    }, what);
  }

  end(): Promise<void> {
    return this.#wait(() => (this.ended ? true : undefined), "the end of the stream").then(() => undefined);
  }

  destroy(): void {
    this.#req?.destroy();
  }
}

export const subscribeXml = (folder: string, types: string[]) =>
  soap(
    `<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="${folder}"/></t:FolderIds>` +
      `<t:EventTypes>${types.map((t) => `<t:EventType>${t}</t:EventType>`).join("")}</t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>`,
  );

export const streamXml = (ids: string[], minutes = 30) =>
  soap(`<m:GetStreamingEvents><m:SubscriptionIds>${ids.map((id) => `<t:SubscriptionId>${id}</t:SubscriptionId>`).join("")}</m:SubscriptionIds><m:ConnectionTimeout>${minutes}</m:ConnectionTimeout></m:GetStreamingEvents>`);
