import { createHash } from "node:crypto";
import type { EmulatorContext } from "./context.js";
import { findMailbox, type EwsIdentity } from "./ews-auth.js";
import { at, attr, type XmlNode } from "./ews-xml.js";
import { folderId, wellKnownFolders } from "./graph-store.js";
import type { StoredMessage, User } from "./state.js";

/** What the EWS endpoint keeps besides the shared mailboxes: the emulator's own switches and keys. */
export interface EwsService {
  /** per user; POST /_emulator/ews/reset-sync raises it, and the SyncStates of older epochs are invalid */
  syncEpochs: Map<string, number>;
  /** users whose mailbox refuses writes (POST /_emulator/ews/read-only) */
  readOnly: Set<string>;
  /** signs SyncStates, so that only the emulator's own are taken; lives as long as the emulator */
  syncKey: Buffer;
}

/** One operation of one request, once authentication and impersonation are settled. */
export interface EwsCall {
  ctx: EmulatorContext;
  service: EwsService;
  identity: EwsIdentity;
  /** the mailbox acted on */
  user: User;
  /** the operation's element: GetItem, SyncFolderItems, ... */
  op: XmlNode;
}

export type Found<T> = { ok: true; value: T } | { ok: false; code: string };

/** The folders a mailbox has: Graph's well-known ones, and the root they hang from. */
export const FOLDER_NAMES: Record<string, string> = { ...wellKnownFolders, msgfolderroot: "Top of Information Store" };

/** A folder's ChangeKey: stable, as folders' properties do not change in the emulator. */
export function folderChangeKey(userId: string, folder: string): string {
  return `AQAAABYAAAA${createHash("sha256").update(`folder/${userId}/${folder}`).digest("base64").slice(0, 24)}`;
}

export function folderIdXml(tag: string, userId: string, folder: string): string {
  return `<t:${tag} Id="${folderId(userId, folder)}" ChangeKey="${folderChangeKey(userId, folder)}"/>`;
}

/**
 * The folder a DistinguishedFolderId or FolderId names, in the caller's mailbox. Naming another mailbox (a
 * DistinguishedFolderId's Mailbox, another user's FolderId) is ErrorAccessDenied: delegate access is not emulated.
 */
export function resolveFolderNode(call: EwsCall, node: XmlNode): Found<string> {
  const { user } = call;
  if (node.name === "DistinguishedFolderId") {
    const address = at(node, "Mailbox", "EmailAddress")?.text;
    if (address !== undefined && address.toLowerCase() !== user.mail.toLowerCase()) {
      return { ok: false, code: findMailbox(call.ctx.state, address) ? "ErrorAccessDenied" : "ErrorNonExistentMailbox" };
    }
    const name = (node.attrs.Id ?? "").toLowerCase();
    return name in FOLDER_NAMES ? { ok: true, value: name } : { ok: false, code: "ErrorFolderNotFound" };
  }
  if (node.name === "FolderId") {
    const id = node.attrs.Id ?? "";
    for (const f of Object.keys(FOLDER_NAMES)) if (folderId(user.id, f) === id) return { ok: true, value: f };
    for (const tenant of call.ctx.state.tenants.values()) {
      for (const other of tenant.users.values()) {
        if (Object.keys(FOLDER_NAMES).some((f) => folderId(other.id, f) === id)) return { ok: false, code: "ErrorAccessDenied" };
      }
    }
    return { ok: false, code: "ErrorFolderNotFound" };
  }
  return { ok: false, code: "ErrorFolderNotFound" };
}

// the emulator's item ids (graph-store): AAMkA, base64, a tail of A's and padding
const ITEM_ID = /^AAMkA[A-Za-z0-9+/_-]{8,}={0,2}$/;

/** The message an ItemId names in the caller's mailbox; an id that cannot be the emulator's is malformed. */
export function findItem(call: EwsCall, id: string): Found<StoredMessage> {
  if (!ITEM_ID.test(id)) return { ok: false, code: "ErrorInvalidIdMalformed" };
  const m = call.ctx.state.messages.get(id);
  // another mailbox's item is "not found" here rather than denied: the emulator's ids do not say whose they are
  if (!m || m.deleted || m.userId !== call.user.id) return { ok: false, code: "ErrorItemNotFound" };
  return { ok: true, value: m };
}

export function itemIdXml(m: StoredMessage): string {
  return `<t:ItemId Id="${attr(m.id)}" ChangeKey="${attr(m.changeKey)}"/>`;
}
