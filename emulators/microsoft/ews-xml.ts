import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { EmulatorResponse } from "./context.js";

/**
 * SOAP for the EWS emulator: reading requests whatever namespace prefixes a client chose, and writing responses in the
 * shape Exchange Online does (https://learn.microsoft.com/exchange/client-developer/web-service-reference/ews-xml-elements-in-exchange).
 */

export const NS = {
  soap: "http://schemas.xmlsoap.org/soap/envelope/",
  types: "http://schemas.microsoft.com/exchange/services/2006/types",
  messages: "http://schemas.microsoft.com/exchange/services/2006/messages",
  errors: "http://schemas.microsoft.com/exchange/services/2006/errors",
} as const;

/** An element of a request, its namespace prefix dropped. */
export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** the element's own text, trimmed */
  text: string;
}

const parser = new XMLParser({
  // clients differ in prefixes (t:, typ:, a default namespace...): elements are matched by local name
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  // element order matters (ItemIds are answered in request order, whatever their element names)
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  // numeric character references (&#xD;) are XML; the parser decodes them only with this switch
  htmlEntities: true,
});

type Ordered = Record<string, unknown>;

function toNode(entry: Ordered): XmlNode | null {
  const name = Object.keys(entry).find((k) => k !== ":@" && k !== "#text");
  if (name === undefined || name.startsWith("?")) return null;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries((entry[":@"] ?? {}) as Record<string, unknown>)) attrs[k] = String(v);
  const node: XmlNode = { name, attrs, children: [], text: "" };
  for (const c of (entry[name] ?? []) as Ordered[]) {
    if ("#text" in c) node.text += String(c["#text"]);
    else {
      const child = toNode(c);
      if (child) node.children.push(child);
    }
  }
  node.text = node.text.trim();
  return node;
}

/** The document's root element, or null when the body is not well-formed XML. */
export function parseXml(body: Buffer): XmlNode | null {
  const text = body.toString("utf8").replace(/^\uFEFF/, "");
  if (text.trim() === "" || XMLValidator.validate(text) !== true) return null;
  try {
    const entries = parser.parse(text) as Ordered[];
    for (const e of entries) {
      const node = toNode(e);
      if (node) return node;
    }
  } catch {
    return null;
  }
  return null;
}

/** The first child element with this local name (case-sensitive, as XML is). */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  return node?.children.filter((c) => c.name === name) ?? [];
}

/** Follows a path of child names from `node`. */
export function at(node: XmlNode | undefined, ...names: string[]): XmlNode | undefined {
  let current = node;
  for (const n of names) current = child(current, n);
  return current;
}

// XML 1.0 cannot carry these at all, not even as character references: they are dropped
// eslint-disable-next-line no-control-regex -- the control characters are what this matches
const NOT_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Element text: markup escaped, CR as a reference so that the reader's end-of-line handling keeps it. */
export function text(value: string): string {
  return value.replace(NOT_XML, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#xD;");
}

/** Attribute value: as text, and quotes and whitespace characters as references (attribute normalization). */
export function attr(value: string): string {
  return text(value).replace(/"/g, "&quot;").replace(/\n/g, "&#xA;").replace(/\t/g, "&#x9;");
}

const SERVER_VERSION = `<h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1544" MinorBuildNumber="4" Version="V2017_07_11" xmlns:h="${NS.types}"/>`;

/** A whole response document around a body element. */
export function envelope(body: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${NS.soap}"><s:Header>${SERVER_VERSION}</s:Header><s:Body>${body}</s:Body></s:Envelope>`;
}

export const XML_CONTENT_TYPE = "text/xml; charset=utf-8";

/** One response message: Success with its content, or a per-item error (HTTP stays 200). */
export type ResponseMessage =
  | { ok: true; xml: string }
  | { ok: false; code: string; text?: string; backOffMs?: number; xml?: string };

/** The texts Exchange sends with its response codes (the emulator's own wording where Exchange's is not known). */
const MESSAGE_TEXTS: Record<string, string> = {
  ErrorAccessDenied: "Access is denied. Check credentials and try again.",
  ErrorCorruptData: "The item is corrupt and cannot be read.",
  ErrorFolderNotFound: "The specified folder could not be found in the store.",
  ErrorImpersonateUserDenied: "The account does not have permission to impersonate the requested user.",
  ErrorInvalidExchangeImpersonationHeaderData: "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
  ErrorInvalidIdMalformed: "Id is malformed.",
  ErrorInvalidRecipients: "At least one recipient isn't valid.",
  ErrorInvalidSubscriptionRequest: "The emulator offers streaming subscriptions only.",
  ErrorInvalidSyncStateData: "Synchronization state data is corrupt or otherwise invalid.",
  ErrorIrresolvableConflict:
    "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
  ErrorItemNotFound: "The specified object was not found in the store.",
  ErrorMimeContentConversionFailed: "Content conversion failed.",
  ErrorNonExistentMailbox: "The SMTP address has no mailbox associated with it.",
  ErrorSendAsDenied: "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.",
  ErrorServerBusy: "The server cannot service this request right now. Try again later.",
  ErrorSubscriptionAccessDenied: "A subscription can only be used by the account that created it.",
  ErrorSubscriptionNotFound: "The specified subscription was not found.",
};

export function messageText(code: string): string {
  return MESSAGE_TEXTS[code] ?? code;
}

/** `<m:{op}ResponseMessage>`: the response code first, then the content; errors carry MessageText, DescriptiveLinkKey, MessageXml. */
export function responseMessage(op: string, message: ResponseMessage): string {
  const tag = `m:${op}ResponseMessage`;
  if (message.ok) return `<${tag} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${message.xml}</${tag}>`;
  const backOff = message.code === "ErrorServerBusy" ? `<m:MessageXml><t:Value Name="BackOffMilliseconds">${message.backOffMs ?? 2000}</t:Value></m:MessageXml>` : "";
  return (
    `<${tag} ResponseClass="Error"><m:MessageText>${text(message.text ?? messageText(message.code))}</m:MessageText>` +
    `<m:ResponseCode>${message.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>${backOff}${message.xml ?? ""}</${tag}>`
  );
}

/** `<m:{op}Response>` with its response messages, the body of one envelope. */
export function responseBody(op: string, messages: ResponseMessage[]): string {
  return `<m:${op}Response xmlns:m="${NS.messages}" xmlns:t="${NS.types}"><m:ResponseMessages>${messages.map((m) => responseMessage(op, m)).join("")}</m:ResponseMessages></m:${op}Response>`;
}

export function soapResponse(op: string, messages: ResponseMessage[]): EmulatorResponse {
  return { status: 200, headers: { "content-type": XML_CONTENT_TYPE }, body: envelope(responseBody(op, messages)) };
}

/**
 * A request-level failure: HTTP 500 with a SOAP fault, as Exchange answers malformed requests, unknown operations and
 * throttling (ErrorServerBusy carries BackOffMilliseconds).
 */
export function soapFault(code: string, message: string, backOffMs: number | null = null, headers: Record<string, string> = {}): EmulatorResponse {
  const backOff = backOffMs === null ? "" : `<t:MessageXml xmlns:t="${NS.types}"><t:Value Name="BackOffMilliseconds">${backOffMs}</t:Value></t:MessageXml>`;
  const fault =
    `<s:Fault><faultcode xmlns:a="${NS.types}">a:${code}</faultcode><faultstring xml:lang="en-US">${text(message)}</faultstring>` +
    `<detail><e:ResponseCode xmlns:e="${NS.errors}">${code}</e:ResponseCode><e:Message xmlns:e="${NS.errors}">${text(message)}</e:Message>${backOff}</detail></s:Fault>`;
  return {
    status: 500,
    headers: { "content-type": XML_CONTENT_TYPE, ...headers },
    body: `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${NS.soap}"><s:Body>${fault}</s:Body></s:Envelope>`,
  };
}

/** What a request that fails the EWS schema gets (a missing or out-of-range element). */
export function schemaFault(detail: string): EmulatorResponse {
  return soapFault("ErrorSchemaValidation", `The request failed schema validation: ${detail}`);
}

/** EWS writes times in UTC without fractions: 2026-11-30T22:04:14Z. */
export function ewsTime(d: Date | string): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function isTrue(value: string | undefined): boolean {
  return value !== undefined && (value.trim() === "true" || value.trim() === "1");
}
