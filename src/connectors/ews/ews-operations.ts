import { MailSourceError } from "../mail-source.js";
import { attribute, child, children, escapeXml, text, type ResponseMessage, type XmlNode } from "./ews-xml.js";

/**
 * The request bodies Mailroom sends to EWS and what it reads from their answers. Element order follows
 * the EWS schema (messages.xsd, types.xsd), which Exchange validates.
 */

const inbox = `<t:DistinguishedFolderId Id="inbox"/>`;
/** PR_TRANSPORT_MESSAGE_HEADERS: the header block as it arrived, the one thing EWS gives of a message short of all of it */
const transportHeaders = `<t:ExtendedFieldURI PropertyTag="0x007D" PropertyType="String"/>`;
const field = (uri: string) => `<t:FieldURI FieldURI="${uri}"/>`;
const itemIds = (ids: string[]) => ids.map((id) => `<t:ItemId Id="${escapeXml(id)}"/>`).join("");

export function getInbox(): string {
  return `<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>${field("folder:DisplayName")}${field("folder:TotalCount")}${field("folder:UnreadCount")}</t:AdditionalProperties></m:FolderShape><m:FolderIds>${inbox}</m:FolderIds></m:GetFolder>`;
}

export function syncInbox(syncState: string | null, maxChanges: number): string {
  const state = syncState === null ? "" : `<m:SyncState>${escapeXml(syncState)}</m:SyncState>`;
  return `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>${field("item:DateTimeReceived")}${field("item:Size")}${field("message:IsRead")}</t:AdditionalProperties></m:ItemShape><m:SyncFolderId>${inbox}</m:SyncFolderId>${state}<m:MaxChangesReturned>${maxChanges}</m:MaxChangesReturned></m:SyncFolderItems>`;
}

/** The whole message as MIME, or (headersOnly) its size and transport headers */
export function getItems(ids: string[], headersOnly: boolean): string {
  const extra = headersOnly ? transportHeaders : "";
  return `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>${headersOnly ? "false" : "true"}</t:IncludeMimeContent><t:AdditionalProperties>${field("item:Size")}${field("item:DateTimeReceived")}${extra}</t:AdditionalProperties></m:ItemShape><m:ItemIds>${itemIds(ids)}</m:ItemIds></m:GetItem>`;
}

export function getSizes(ids: string[]): string {
  return `<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>${field("item:Size")}</t:AdditionalProperties></m:ItemShape><m:ItemIds>${itemIds(ids)}</m:ItemIds></m:GetItem>`;
}

/** IsRead = true without a read receipt to the sender: the customer is not told an agent has it yet */
export function markRead(ids: string[]): string {
  const changes = ids
    .map((id) => `<t:ItemChange><t:ItemId Id="${escapeXml(id)}"/><t:Updates><t:SetItemField>${field("message:IsRead")}<t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange>`)
    .join("");
  return `<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite" SuppressReadReceipts="true"><m:ItemChanges>${changes}</m:ItemChanges></m:UpdateItem>`;
}

export function subscribeInbox(): string {
  return `<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>${inbox}</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>`;
}

export function streamEvents(subscriptionId: string, minutes: number): string {
  return `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${escapeXml(subscriptionId)}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>${minutes}</m:ConnectionTimeout></m:GetStreamingEvents>`;
}

export function unsubscribe(subscriptionId: string): string {
  return `<m:Unsubscribe><m:SubscriptionId>${escapeXml(subscriptionId)}</m:SubscriptionId></m:Unsubscribe>`;
}

/** Sends the MIME as it is and keeps a copy in Sent Items, as an agent's reply from Outlook would */
export function sendMime(mime: Buffer): string {
  return `<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">${mime.toString("base64")}</t:MimeContent></t:Message></m:Items></m:CreateItem>`;
}

/** One item of a Create change or a GetItem answer: whichever item type it is (Message, MeetingRequest, …) */
export function itemOf(holder: XmlNode | undefined): XmlNode | undefined {
  if (holder === undefined) return undefined;
  for (const name of Object.keys(holder)) {
    if (name.startsWith("@") || name === "#text") continue;
    const node = children(holder, name)[0];
    if (node && child(node, "ItemId")) return node;
  }
  return undefined;
}

export function itemId(item: XmlNode | undefined): string {
  return attribute(child(item, "ItemId"), "Id");
}

/** The changes of one SyncFolderItems answer */
export interface SyncPage {
  syncState: string;
  last: boolean;
  created: { id: string; receivedAt: string; size: number; isRead: boolean }[];
  deleted: string[];
}

export function readSyncPage(message: ResponseMessage): SyncPage {
  const changes = child(message.node, "Changes");
  const created = children(changes, "Create")
    .map(itemOf)
    .filter((item): item is XmlNode => item !== undefined)
    .map((item) => ({ id: itemId(item), receivedAt: text(item, "DateTimeReceived"), size: Number(text(item, "Size")) || 0, isRead: text(item, "IsRead") === "true" }));
  const deleted = children(changes, "Delete").map((d) => attribute(child(d, "ItemId"), "Id"));
  return { syncState: text(message.node, "SyncState"), last: text(message.node, "IncludesLastItemInRange") !== "false", created, deleted };
}

/** A message's transport headers as a header block: CRLF line ends, the empty line after */
export function headerBlockOf(item: XmlNode | undefined): Buffer {
  const property = children(item, "ExtendedProperty").find((p) => /^0x0*7d$/i.test(attribute(child(p, "ExtendedFieldURI"), "PropertyTag")));
  const headers = text(property, "Value").replace(/\r\n|\r|\n/g, "\r\n").replace(/(\r\n)+$/, "");
  return Buffer.from(headers === "" ? "\r\n" : `${headers}\r\n\r\n`, "utf8");
}

/** Errors that concern the mailbox, not one message: the sync cannot go on, and the runner says why */
export function mailboxError(message: ResponseMessage, login: string, host: string): MailSourceError {
  const said = `${message.code}: ${message.text}`;
  switch (message.code) {
    case "ErrorNonExistentMailbox":
    case "ErrorFolderNotFound":
      return new MailSourceError("folder_missing", `Exchange at ${host} has no mailbox ${login} (or its Inbox) to read.`, said);
    case "ErrorAccessDenied":
    case "ErrorImpersonateUserDenied":
    case "ErrorImpersonationDenied":
    case "ErrorInvalidExchangeImpersonationHeaderData":
      return new MailSourceError(
        "consent_required",
        `Exchange at ${host} denied access to the mailbox ${login}: an app needs full_access_as_app (ApplicationImpersonation on Exchange Server) with admin consent, a user needs access to the mailbox.`,
        said,
      );
    case "ErrorMailboxMoveInProgress":
    case "ErrorMailboxStoreUnavailable":
    case "ErrorConnectionFailed":
      return new MailSourceError("throttled", `Exchange at ${host} cannot open the mailbox ${login} now (${message.code}); Mailroom will try again.`, said);
    default:
      return new MailSourceError("protocol_error", `Exchange at ${host} answered ${message.code} for ${login}: ${message.text}`, said);
  }
}

/** The one response message a single-target operation answers, or the mailbox's error */
export function single(messages: ResponseMessage[], login: string, host: string): ResponseMessage {
  const first = messages[0];
  if (first === undefined) throw new MailSourceError("protocol_error", `Exchange at ${host} answered without a response message.`);
  if (first.responseClass === "Error") throw mailboxError(first, login, host);
  return first;
}
