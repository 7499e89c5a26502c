import type { EmulatorResponse } from "./context.js";
import { itemIdXml, resolveFolderNode, type EwsCall } from "./ews-call.js";
import { at, child, schemaFault, soapResponse, type ResponseMessage, type XmlNode } from "./ews-xml.js";
import { decodeMimeBase64, prepareMime, submitMessage } from "./graph-send.js";
import { addMessage } from "./graph-store.js";

/**
 * CreateItem for messages given as MIME (https://learn.microsoft.com/exchange/client-developer/web-service-reference/createitem-operation-email-message):
 * SendOnly and SendAndSaveCopy send through the same path as Graph's sendMail; SaveOnly stores a draft.
 */

const DISPOSITIONS = ["SendOnly", "SendAndSaveCopy", "SaveOnly"];

export function createItem(call: EwsCall): EmulatorResponse {
  const { ctx, user, op } = call;
  const disposition = op.attrs.MessageDisposition ?? "";
  // the attribute is optional in the schema but Exchange needs it for messages
  if (!DISPOSITIONS.includes(disposition)) return schemaFault(`MessageDisposition must be one of ${DISPOSITIONS.join(", ")} for messages.`);
  const items = child(op, "Items")?.children ?? [];
  if (items.length === 0) return schemaFault("CreateItem needs at least one item in Items.");

  // where the copy goes: SavedItemFolderId, else Sent Items for SendAndSaveCopy and Drafts for SaveOnly
  let saveTo: string | null = disposition === "SendOnly" ? null : disposition === "SaveOnly" ? "drafts" : "sentitems";
  const savedNode = child(op, "SavedItemFolderId")?.children[0];
  if (savedNode && disposition !== "SendOnly") {
    const folder = resolveFolderNode(call, savedNode);
    if (!folder.ok) return soapResponse("CreateItem", items.map(() => folder));
    saveTo = folder.value === "msgfolderroot" ? saveTo : folder.value;
  }

  const one = (item: XmlNode): ResponseMessage => {
    if (item.name !== "Message") return { ok: false, code: "ErrorInvalidRequest", text: "The emulator's CreateItem takes t:Message only." };
    if (call.service.readOnly.has(user.id)) return { ok: false, code: "ErrorAccessDenied" };
    const mime = decodeMimeBase64(at(item, "MimeContent")?.text ?? "");
    if (!mime) return { ok: false, code: "ErrorMimeContentConversionFailed" };
    if (disposition === "SaveOnly") {
      const draft = addMessage(ctx, { userId: user.id, folder: saveTo ?? "drafts", mime, isRead: true });
      return { ok: true, xml: `<m:Items><t:Message>${itemIdXml(draft)}</t:Message></m:Items>` };
    }
    const prepared = prepareMime(ctx, user, mime);
    if (!prepared.ok) return { ok: false, code: prepared.reason === "sendAsDenied" ? "ErrorSendAsDenied" : "ErrorInvalidRecipients" };
    submitMessage(ctx, user, prepared.value, { saveCopyTo: saveTo, via: "ews" });
    // a sent message's copies are not returned: Exchange answers Send* with empty Items
    return { ok: true, xml: "<m:Items/>" };
  };
  return soapResponse("CreateItem", items.map(one));
}
