import { createHmac, timingSafeEqual } from "node:crypto";
import type { EmulatorResponse } from "./context.js";
import { itemIdXml, resolveFolderNode, type EwsCall, type EwsService } from "./ews-call.js";
import { messageXml, readItemShape, type ItemShape } from "./ews-items.js";
import { attr, child, schemaFault, soapResponse } from "./ews-xml.js";
import type { StoredMessage } from "./state.js";

/**
 * SyncFolderItems (https://learn.microsoft.com/exchange/client-developer/web-service-reference/syncfolderitems-operation).
 *
 * The SyncState is opaque to clients: base64 of an HMAC and a JSON body, signed with a key that lives as long as the
 * emulator, so that only the emulator's own states are taken. It names the user, the folder and the user's sync epoch
 * (POST /_emulator/ews/reset-sync starts a new one). Like Exchange's, it says which items the client knows, so that a
 * change to one it knows is an Update and one it never saw is a Create, and an item created and removed between two
 * syncs appears nowhere. The known items are kept as ranges of their creation position in the change log (createdSeq);
 * the state stays small because such ranges merge across everything that cannot come up again.
 */
interface SyncState {
  u: string;
  f: string;
  e: number;
  /** the first sync, item by item, oldest received first: where it began in the change log and the last item sent; null once done */
  i: { upto: number; r: string; c: number } | null;
  /** the change log has been gone through up to here */
  w: number;
  /** for the items the client knows, every change to anything but the read flag up to here has reached it */
  cw: number;
  /** the items the client knows: ranges of createdSeq, for this folder's items only */
  s: [number, number][];
}

/** messages.xsd MaxSyncChangesReturnedType: 1 to 512 */
const MAX_CHANGES = 512;

function sign(key: Buffer, body: Buffer): Buffer {
  return createHmac("sha256", key).update(body).digest().subarray(0, 16);
}

function encode(key: Buffer, state: SyncState): string {
  const body = Buffer.from(JSON.stringify(state), "utf8");
  return Buffer.concat([sign(key, body), body]).toString("base64");
}

function decode(key: Buffer, token: string): SyncState | null {
  const raw = Buffer.from(token, "base64");
  if (raw.length <= 16) return null;
  const mac = raw.subarray(0, 16);
  const body = raw.subarray(16);
  if (!timingSafeEqual(mac, sign(key, body))) return null;
  try {
    return JSON.parse(body.toString("utf8")) as SyncState;
  } catch {
    return null;
  }
}

const inRanges = (ranges: [number, number][], seq: number) => ranges.some(([a, b]) => seq >= a && seq <= b);

/** The known items as ranges; what can never be reported again (removed and gone past) does not break a range. */
function toRanges(items: StoredMessage[], known: (m: StoredMessage) => boolean, gonePast: number): [number, number][] {
  const ranges: [number, number][] = [];
  let open: [number, number] | null = null;
  for (const m of [...items].sort((a, b) => a.createdSeq - b.createdSeq)) {
    if (known(m)) {
      if (open) open[1] = m.createdSeq;
      else open = [m.createdSeq, m.createdSeq];
    } else if (!(m.deleted && m.changeSeq <= gonePast) && open) {
      ranges.push(open);
      open = null;
    }
  }
  if (open) ranges.push(open);
  return ranges;
}

const byReceived = (a: StoredMessage, b: StoredMessage) => a.receivedDateTime.localeCompare(b.receivedDateTime) || a.createdSeq - b.createdSeq;

export function epochOf(service: EwsService, userId: string): number {
  return service.syncEpochs.get(userId) ?? 1;
}

export function syncFolderItems(call: EwsCall): EmulatorResponse {
  const { ctx, service, user, op } = call;
  const folderNode = child(op, "SyncFolderId")?.children[0];
  const maxText = child(op, "MaxChangesReturned")?.text ?? "";
  const max = /^\d+$/.test(maxText) ? Number(maxText) : NaN;
  // out of range fails the schema's MaxSyncChangesReturnedType, so Exchange answers it with a schema fault, not a response message
  if (!folderNode) return schemaFault("The element 'SyncFolderItems' is missing 'SyncFolderId'.");
  if (!(max >= 1 && max <= MAX_CHANGES)) {
    return schemaFault(`The 'MaxChangesReturned' element is invalid - The value '${maxText}' is invalid according to its datatype (1 to ${MAX_CHANGES}).`);
  }
  const folder = resolveFolderNode(call, folderNode);
  if (!folder.ok) return soapResponse("SyncFolderItems", [folder]);
  const shape = readItemShape(child(op, "ItemShape"));
  const epoch = epochOf(service, user.id);

  const token = child(op, "SyncState")?.text ?? "";
  let state: SyncState;
  if (token === "") {
    state = { u: user.id, f: folder.value, e: epoch, i: { upto: ctx.state.changeSeq, r: "", c: 0 }, w: 0, cw: 0, s: [] };
  } else {
    const decoded = decode(service.syncKey, token);
    if (!decoded || decoded.u !== user.id || decoded.f !== folder.value || decoded.e !== epoch) {
      return soapResponse("SyncFolderItems", [{ ok: false, code: "ErrorInvalidSyncStateData" }]);
    }
    state = decoded;
  }

  const items = ctx.state.folderMessages(user.id, folder.value);
  const result = state.i ? firstSync(state, items, max, shape) : changesSince(state, items, max, shape);
  const next = result.next;
  const knewBefore = (m: StoredMessage) => inRanges(state.s, m.createdSeq);
  next.s = toRanges(items, (m) => knewBefore(m) || result.introduced.has(m), next.i ? next.i.upto : next.w);
  return soapResponse("SyncFolderItems", [
    {
      ok: true,
      xml:
        `<m:SyncState>${encode(service.syncKey, next)}</m:SyncState><m:IncludesLastItemInRange>${!result.more}</m:IncludesLastItemInRange>` +
        `<m:Changes>${result.changes.join("")}</m:Changes>`,
    },
  ]);
}

interface Page {
  changes: string[];
  /** items reported as created on this page: the client knows them from now on */
  introduced: Set<StoredMessage>;
  more: boolean;
  next: SyncState;
}

/** The first sync: a Create for each item that existed when it began, oldest received first, in pages. */
function firstSync(state: SyncState, items: StoredMessage[], max: number, shape: ItemShape): Page {
  const init = state.i as NonNullable<SyncState["i"]>;
  const after = (m: StoredMessage) => m.receivedDateTime.localeCompare(init.r) > 0 || (m.receivedDateTime === init.r && m.createdSeq > init.c);
  const rest = items.filter((m) => !m.deleted && m.createdSeq <= init.upto && after(m)).sort(byReceived);
  const page = rest.slice(0, max);
  const changes = page.map((m) => `<t:Create>${messageXml(m, shape)}</t:Create>`);
  const last = page.at(-1);
  const more = rest.length > page.length;
  // done: later syncs go through the change log from where the first one began
  const next: SyncState = more && last ? { ...state, i: { upto: init.upto, r: last.receivedDateTime, c: last.createdSeq } } : { ...state, i: null, w: init.upto, cw: init.upto };
  return { changes, introduced: new Set(page), more, next };
}

/** Later syncs: the change log since the state, in order, each item once at its latest change. */
function changesSince(state: SyncState, items: StoredMessage[], max: number, shape: ItemShape): Page {
  const candidates = items.filter((m) => m.changeSeq > state.w).sort((a, b) => a.changeSeq - b.changeSeq);
  const changes: string[] = [];
  const introduced = new Set<StoredMessage>();
  let walked = state.w;
  let stoppedAt = -1;
  for (let idx = 0; idx < candidates.length; idx++) {
    const m = candidates[idx] as StoredMessage;
    const known = inRanges(state.s, m.createdSeq);
    let change: string | null;
    if (m.deleted) change = known ? `<t:Delete><t:ItemId Id="${attr(m.id)}"/></t:Delete>` : null;
    else if (!known) change = `<t:Create>${messageXml(m, shape)}</t:Create>`;
    else if (m.contentSeq <= state.cw) change = `<t:ReadFlagChange>${itemIdXml(m)}<t:IsRead>${m.isRead}</t:IsRead></t:ReadFlagChange>`;
    else change = `<t:Update>${messageXml(m, shape)}</t:Update>`;
    if (change !== null && changes.length === max) {
      stoppedAt = idx;
      break;
    }
    if (change !== null) changes.push(change);
    if (change !== null && !m.deleted && !known) introduced.add(m);
    walked = m.changeSeq;
  }
  if (stoppedAt === -1) return { changes, introduced, more: false, next: { ...state, w: walked, cw: walked } };
  // a known item further on whose content changed has not had that change yet: cw stays before it, so that its next
  // report is a full Update and not a ReadFlagChange
  let pending = walked;
  for (const m of candidates.slice(stoppedAt)) {
    if (!m.deleted && inRanges(state.s, m.createdSeq) && m.contentSeq > state.cw) pending = Math.min(pending, m.contentSeq - 1);
  }
  return { changes, introduced, more: true, next: { ...state, w: walked, cw: Math.max(state.cw, pending) } };
}
