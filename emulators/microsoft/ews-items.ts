import type { EmulatorResponse } from "./context.js";
import { findItem, folderIdXml, itemIdXml, type EwsCall } from "./ews-call.js";
import { at, child, children, ewsTime, isTrue, schemaFault, soapResponse, text, type ResponseMessage, type XmlNode } from "./ews-xml.js";
import type { Address } from "./graph-mime.js";
import { isRefused, parsedOf, setReadFlag } from "./graph-store.js";
import type { StoredMessage } from "./state.js";

/**
 * Messages as EWS items: the ItemShape a request asks for, t:Message in the schema's element order, and the GetItem and
 * UpdateItem operations (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getitem-operation).
 */

export interface ItemShape {
  mime: boolean;
  /** FieldURIs, lower case (item:subject, message:isread, ...) */
  fields: Set<string>;
  /** PR_TRANSPORT_MESSAGE_HEADERS asked for as an ExtendedFieldURI */
  transportHeaders: boolean;
}

/** The properties the emulator has, in the order the schema puts them in t:Message (ItemType, then MessageType). */
const PROPERTIES = [
  "item:ParentFolderId",
  "item:ItemClass",
  "item:Subject",
  "item:DateTimeReceived",
  "item:Size",
  "item:DateTimeSent",
  "item:DateTimeCreated",
  "item:HasAttachments",
  // ExtendedProperty goes here
  "item:LastModifiedTime",
  "message:ToRecipients",
  "message:CcRecipients",
  "message:From",
  "message:InternetMessageId",
  "message:IsRead",
];

/** The message properties of the Default shape (https://learn.microsoft.com/exchange/client-developer/exchange-web-services/property-sets-and-response-shapes-in-ews-in-exchange). */
const DEFAULT_SHAPE = ["item:Subject", "item:HasAttachments", "message:ToRecipients", "message:From", "message:IsRead"];

const PR_TRANSPORT_MESSAGE_HEADERS = 0x007d;

export function readItemShape(node: XmlNode | undefined): ItemShape {
  const base = at(node, "BaseShape")?.text ?? "IdOnly";
  const fields = new Set<string>();
  if (base === "Default") for (const f of DEFAULT_SHAPE) fields.add(f.toLowerCase());
  // AllProperties does not include the MIME content, as in Exchange
  if (base === "AllProperties") for (const f of PROPERTIES) fields.add(f.toLowerCase());
  let transportHeaders = false;
  for (const p of child(node, "AdditionalProperties")?.children ?? []) {
    if (p.name === "FieldURI") fields.add((p.attrs.FieldURI ?? "").toLowerCase());
    if (p.name === "ExtendedFieldURI" && Number(p.attrs.PropertyTag) === PR_TRANSPORT_MESSAGE_HEADERS && p.attrs.PropertyType === "String") transportHeaders = true;
  }
  return { mime: isTrue(at(node, "IncludeMimeContent")?.text) || fields.has("item:mimecontent"), fields, transportHeaders };
}

/** The header block: the bytes up to and including the line end of the last header line, without the empty line. */
export function headerBlock(mime: Buffer): Buffer {
  const crlf = mime.indexOf("\r\n\r\n");
  const lf = mime.indexOf("\n\n");
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return mime.subarray(0, crlf + 2);
  if (lf !== -1) return mime.subarray(0, lf + 1);
  return mime;
}

const mailbox = (a: Address) => `<t:Mailbox><t:Name>${text(a.name)}</t:Name><t:EmailAddress>${text(a.address)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox>`;

/** t:Message with its ItemId and the shape's properties. */
export function messageXml(m: StoredMessage, shape: ItemShape): string {
  const info = parsedOf(m);
  const values: Record<string, () => string | null> = {
    "item:ParentFolderId": () => folderIdXml("ParentFolderId", m.userId, m.folder),
    "item:ItemClass": () => "<t:ItemClass>IPM.Note</t:ItemClass>",
    "item:Subject": () => `<t:Subject>${text(m.subject)}</t:Subject>`,
    "item:DateTimeReceived": () => `<t:DateTimeReceived>${ewsTime(m.receivedDateTime)}</t:DateTimeReceived>`,
    // Size is the MIME's length in bytes (Exchange's own measure differs a little; clients use it as an estimate)
    "item:Size": () => `<t:Size>${m.mime.length}</t:Size>`,
    "item:DateTimeSent": () => `<t:DateTimeSent>${ewsTime(info.date ?? m.receivedDateTime)}</t:DateTimeSent>`,
    "item:DateTimeCreated": () => `<t:DateTimeCreated>${ewsTime(m.createdDateTime)}</t:DateTimeCreated>`,
    "item:HasAttachments": () => `<t:HasAttachments>${info.hasAttachments}</t:HasAttachments>`,
    "item:LastModifiedTime": () => `<t:LastModifiedTime>${ewsTime(m.lastModifiedDateTime)}</t:LastModifiedTime>`,
    "message:ToRecipients": () => (info.to.length ? `<t:ToRecipients>${info.to.map(mailbox).join("")}</t:ToRecipients>` : null),
    "message:CcRecipients": () => (info.cc.length ? `<t:CcRecipients>${info.cc.map(mailbox).join("")}</t:CcRecipients>` : null),
    "message:From": () => (info.from ? `<t:From>${mailbox(info.from)}</t:From>` : null),
    "message:InternetMessageId": () => (m.internetMessageId ? `<t:InternetMessageId>${text(m.internetMessageId)}</t:InternetMessageId>` : null),
    "message:IsRead": () => `<t:IsRead>${m.isRead}</t:IsRead>`,
  };
  let xml = shape.mime ? `<t:MimeContent CharacterSet="UTF-8">${m.mime.toString("base64")}</t:MimeContent>` : "";
  xml += itemIdXml(m);
  for (const p of PROPERTIES) {
    if (p === "item:LastModifiedTime" && shape.transportHeaders) {
      // decoded as UTF-8 (raw 8-bit headers are mostly UTF-8 today); what XML cannot carry is dropped by text()
      const headers = new TextDecoder("utf-8").decode(headerBlock(m.mime));
      xml += `<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x7d" PropertyType="String"/><t:Value>${text(headers)}</t:Value></t:ExtendedProperty>`;
    }
    if (shape.fields.has(p.toLowerCase())) xml += (values[p] as () => string | null)() ?? "";
  }
  return `<t:Message>${xml}</t:Message>`;
}

/** GetItem: one response message per ItemId, in request order. */
export function getItem(call: EwsCall): EmulatorResponse {
  const shapeNode = child(call.op, "ItemShape");
  const ids = child(call.op, "ItemIds")?.children ?? [];
  if (!shapeNode || ids.length === 0) return schemaFault("GetItem needs an ItemShape and at least one item id in ItemIds.");
  const shape = readItemShape(shapeNode);
  const messages = ids.map((node): ResponseMessage => {
    if (node.name !== "ItemId") return { ok: false, code: "ErrorInvalidIdMalformed" };
    const found = findItem(call, node.attrs.Id ?? "");
    if (!found.ok) return found;
    // the emulator's corrupt item (POST /_emulator/refuse): Exchange cannot read it, whatever the shape asks for
    if (isRefused(call.ctx, found.value)) return { ok: false, code: "ErrorCorruptData" };
    return { ok: true, xml: `<m:Items>${messageXml(found.value, shape)}</m:Items>` };
  });
  return soapResponse("GetItem", messages);
}

/** The read flag a ItemChange sets, or the code of what is wrong with it: the emulator sets message:IsRead only. */
function readFlagUpdate(change: XmlNode): { ok: true; isRead: boolean } | { ok: false; code: string; text?: string } {
  const updates = child(change, "Updates")?.children ?? [];
  let isRead: boolean | null = null;
  for (const u of updates) {
    const field = child(u, "FieldURI")?.attrs.FieldURI ?? "";
    const value = at(u, "Message", "IsRead")?.text;
    if (u.name !== "SetItemField" || field !== "message:IsRead" || (value !== "true" && value !== "false")) {
      return { ok: false, code: "ErrorInvalidPropertySet", text: "The emulator's UpdateItem sets message:IsRead only." };
    }
    isRead = value === "true";
  }
  return isRead === null ? { ok: false, code: "ErrorInvalidPropertySet", text: "The ItemChange has no SetItemField." } : { ok: true, isRead };
}

/** UpdateItem: marks messages read or unread, one response message per ItemChange. */
export function updateItem(call: EwsCall): EmulatorResponse {
  const conflict = call.op.attrs.ConflictResolution ?? "AutoResolve";
  const changes = children(child(call.op, "ItemChanges"), "ItemChange");
  if (changes.length === 0) return schemaFault("UpdateItem needs at least one ItemChange.");
  const messages = changes.map((change): ResponseMessage => {
    const idNode = child(change, "ItemId");
    if (!idNode) return { ok: false, code: "ErrorInvalidIdMalformed" };
    const found = findItem(call, idNode.attrs.Id ?? "");
    if (!found.ok) return found;
    const m = found.value;
    if (call.service.readOnly.has(m.userId)) return { ok: false, code: "ErrorAccessDenied" };
    const update = readFlagUpdate(change);
    if (!update.ok) return update;
    // NeverOverwrite refuses a change made against an older version; AutoResolve and AlwaysOverwrite take it
    const changeKey = idNode.attrs.ChangeKey;
    if (conflict === "NeverOverwrite" && changeKey !== undefined && changeKey !== m.changeKey) return { ok: false, code: "ErrorIrresolvableConflict" };
    // as Graph's PATCH: an unchanged flag is no write (no new ChangeKey, no event)
    setReadFlag(call.ctx, m, update.isRead);
    return { ok: true, xml: `<m:Items><t:Message>${itemIdXml(m)}</t:Message></m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>` };
  });
  return soapResponse("UpdateItem", messages);
}
