import type { EmulatorResponse } from "./context.js";
import { FOLDER_NAMES, folderIdXml, resolveFolderNode, type EwsCall } from "./ews-call.js";
import { child, schemaFault, soapResponse, text, type ResponseMessage } from "./ews-xml.js";
import { wellKnownFolders } from "./graph-store.js";

/** t:Folder with the counts clients look at; the emulator's folders have no subfolders but the root's. */
function folderXml(call: EwsCall, folder: string): string {
  const { user } = call;
  const messages = call.ctx.state.folderMessages(user.id, folder).filter((m) => !m.deleted);
  const root = folder === "msgfolderroot";
  return (
    `<t:Folder>${folderIdXml("FolderId", user.id, folder)}${root ? "" : folderIdXml("ParentFolderId", user.id, "msgfolderroot")}` +
    `<t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>${text(FOLDER_NAMES[folder] ?? folder)}</t:DisplayName>` +
    `<t:TotalCount>${messages.length}</t:TotalCount><t:ChildFolderCount>${root ? Object.keys(wellKnownFolders).length : 0}</t:ChildFolderCount>` +
    `<t:UnreadCount>${messages.filter((m) => !m.isRead).length}</t:UnreadCount></t:Folder>`
  );
}

/** GetFolder (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getfolder-operation): FolderShape is read and ignored. */
export function getFolder(call: EwsCall): EmulatorResponse {
  const ids = child(call.op, "FolderIds")?.children ?? [];
  if (ids.length === 0) return schemaFault("GetFolder needs at least one folder id in FolderIds.");
  const messages = ids.map((node): ResponseMessage => {
    const found = resolveFolderNode(call, node);
    return found.ok ? { ok: true, xml: `<m:Folders>${folderXml(call, found.value)}</m:Folders>` } : found;
  });
  return soapResponse("GetFolder", messages);
}
