import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { graphError, json, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type Route } from "./context.js";
import { authorizeMailbox, mailRead } from "./graph-auth.js";
import { parseFilter, parseSelect } from "./graph-query.js";
import { folderId, messageJson, resolveFolder } from "./graph-store.js";
import type { StoredMessage } from "./state.js";

/**
 * message: delta on one folder (https://learn.microsoft.com/graph/api/message-delta,
 * https://learn.microsoft.com/graph/delta-query-messages).
 *
 * State tokens are opaque to clients: base64url JSON of the round's position in the emulator's change log, signed with a
 * key that lives as long as the emulator, so a token from another run (or a made-up one) is unknown and answers 410 as
 * an expired one does on Graph. Paging walks the change log (changeSeq) up to where the round began, so a message
 * changed during a round is reported in the next round instead of being skipped or repeated on this one.
 */
interface DeltaState {
  /** generation: POST /_emulator/delta/reset raises it and every older token becomes unknown */
  g: number;
  u: string;
  f: string;
  /** the first round reports what exists; later rounds report changes */
  initial: boolean;
  /** changes after this change-log position belong to the round */
  since: number;
  /** ... up to this one (where the round began) */
  upto: number;
  /** the last change-log position a page of this round has gone through */
  after: number;
  select: string[] | null;
  changeType: "created" | "updated" | "deleted" | null;
  received: { op: "ge" | "gt"; value: string } | null;
  top: number | null;
}

/** Graph's page size for messages when the request does not ask for another with Prefer: odata.maxpagesize */
const DEFAULT_PAGE_SIZE = 10;

export function deltaRoutes(ctx: EmulatorContext): Route[] {
  const key = randomBytes(32);
  let generation = 1;

  const sign = (body: string) => createHmac("sha256", key).update(body).digest("base64url");
  const encode = (s: DeltaState) => {
    const body = Buffer.from(JSON.stringify(s)).toString("base64url");
    return `${body}.${sign(body)}`;
  };
  const decode = (token: string): DeltaState | null => {
    const [body = "", mac = ""] = token.split(".");
    const expected = Buffer.from(sign(body));
    if (mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), expected)) return null;
    try {
      const s = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as DeltaState;
      return s.g === generation ? s : null;
    } catch {
      return null;
    }
  };

  const handler = (req: EmulatorRequest): EmulatorResponse => {
    const userParam = req.params.user ?? "me";
    const auth = authorizeMailbox(ctx, req, userParam, mailRead);
    if (!auth.ok) return auth.response;
    const { user } = auth.value;
    const folder = resolveFolder(user.id, req.params.folder ?? "");
    if (!folder) return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    const prefix = userParam.toLowerCase() === "me" ? "/v1.0/me" : `/v1.0/users/${user.id}`;
    const base = `${ctx.url}${prefix}/mailFolders/${folderId(user.id, folder)}/messages/delta`;

    const deltaToken = req.query.get("$deltatoken") ?? req.query.get("$deltaToken");
    const skipToken = req.query.get("$skiptoken") ?? req.query.get("$skipToken");
    let state: DeltaState;
    if (deltaToken === "latest") {
      // "sync from now" is documented for directory resources and OneDrive only; the emulator offers it for messages too
      // (https://learn.microsoft.com/graph/delta-query-overview), starting the next round at the current position
      const initial = initialState(req, user.id, folder, generation);
      if (!initial.ok) return initial.response;
      const position = ctx.state.changeSeq;
      const next = encode({ ...initial.value, initial: false, since: position, upto: position, after: position });
      return json(200, { "@odata.context": `${ctx.url}/v1.0/$metadata#Collection(message)`, value: [], "@odata.deltaLink": `${base}?$deltatoken=${next}` });
    }
    if (deltaToken !== null || skipToken !== null) {
      const decoded = decode(deltaToken ?? skipToken ?? "");
      if (!decoded || decoded.u !== user.id || decoded.f !== folder) return syncReset(base);
      // a deltaLink starts a new round: everything changed since the last one, up to now
      state = deltaToken !== null ? { ...decoded, upto: ctx.state.changeSeq, after: decoded.since } : decoded;
    } else {
      const initial = initialState(req, user.id, folder, generation);
      if (!initial.ok) return initial.response;
      state = { ...initial.value, upto: ctx.state.changeSeq };
    }

    const pageSize = preferredPageSize(req) ?? state.top ?? DEFAULT_PAGE_SIZE;
    const preferText = /outlook\.body-content-type\s*=\s*"?text"?/i.test(String(req.headers.prefer ?? ""));
    const candidates = ctx.state
      .folderMessages(user.id, folder)
      .filter((m) => m.changeSeq > state.after && m.changeSeq <= state.upto)
      .sort((a, b) => a.changeSeq - b.changeSeq);
    const value: Record<string, unknown>[] = [];
    let cursor = state.after;
    let exhausted = true;
    for (const m of candidates) {
      if (value.length >= pageSize) {
        exhausted = false;
        break;
      }
      cursor = m.changeSeq;
      const item = entry(state, m, preferText);
      if (item) value.push(item);
    }
    const page: Record<string, unknown> = { "@odata.context": `${ctx.url}/v1.0/$metadata#Collection(message)` };
    if (exhausted) {
      const next = encode({ ...state, initial: false, since: state.upto, after: state.upto });
      page["@odata.deltaLink"] = `${base}?$deltatoken=${next}`;
    } else {
      page["@odata.nextLink"] = `${base}?$skiptoken=${encode({ ...state, after: cursor })}`;
    }
    page.value = value;
    return json(200, page);
  };

  return [
    { method: "GET", pattern: "/v1.0/users/:user/mailFolders/:folder/messages/delta", kind: "graph", handler },
    { method: "GET", pattern: "/v1.0/me/mailFolders/:folder/messages/delta", kind: "graph", handler },
    {
      // the emulator's own switch: every delta token issued so far becomes unknown (410), as after Graph's cache loses them
      method: "POST",
      pattern: "/_emulator/delta/reset",
      kind: "control",
      handler: () => {
        generation += 1;
        return json(200, { generation });
      },
    },
  ];
}

/**
 * Graph asks for a full resync with 410 Gone and a Location header holding the initial request; the documented code for
 * an expired token is syncStateNotFound (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset,
 * https://learn.microsoft.com/graph/errors#code-property).
 */
function syncReset(initialUrl: string): EmulatorResponse {
  return graphError(410, "syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again.", {
    location: initialUrl,
  });
}

/** What one changed message looks like in a delta page, or null when this round does not report it. */
function entry(state: DeltaState, m: StoredMessage, preferText: boolean): Record<string, unknown> | null {
  let kind: "created" | "updated" | "deleted";
  if (state.initial) {
    // the first round returns what exists now; what was created and deleted before it is not reported
    if (m.deleted) return null;
    kind = "created";
  } else if (m.deleted) {
    if (m.createdSeq > state.since) return null; // the client never saw it
    kind = "deleted";
  } else {
    kind = m.createdSeq > state.since ? "created" : "updated";
  }
  if (state.changeType !== null && state.changeType !== kind) return null;
  if (kind === "deleted") return { "@odata.type": "#microsoft.graph.message", id: m.id, "@removed": { reason: "deleted" } };
  // removals and read-state changes are reported even when they do not match the filter; new ones are filtered
  if (state.received && kind === "created") {
    const r = m.receivedDateTime.localeCompare(state.received.value);
    if (state.received.op === "ge" ? r < 0 : r <= 0) return null;
  }
  return { "@odata.type": "#microsoft.graph.message", ...messageJson(m, state.select, preferText) };
}

function preferredPageSize(req: EmulatorRequest): number | null {
  const m = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(String(req.headers.prefer ?? ""));
  const n = m ? Number(m[1]) : NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}

/**
 * The options of a first request; later requests carry them in the token. Delta takes only `receivedDateTime ge|gt` as
 * $filter and only `receivedDateTime desc` as $orderby, and the custom option changeType.
 */
function initialState(req: EmulatorRequest, userId: string, folder: string, g: number): { ok: true; value: DeltaState } | { ok: false; response: EmulatorResponse } {
  const select = parseSelect(req.query.get("$select"));
  if (!select.ok) return select;
  const filter = parseFilter(req.query.get("$filter"));
  if (!filter.ok) return filter;
  const invalidFilter = graphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.");
  if (filter.value.length > 1) return { ok: false, response: invalidFilter };
  const clause = filter.value[0];
  if (clause && (clause.property !== "receiveddatetime" || (clause.op !== "ge" && clause.op !== "gt"))) return { ok: false, response: invalidFilter };
  const orderby = req.query.get("$orderby");
  if (orderby !== null && !/^\s*receivedDateTime\s+desc\s*$/i.test(orderby)) {
    return { ok: false, response: graphError(400, "ErrorInvalidUrlQuery", "The only supported $orderby expression for delta is receivedDateTime desc.") };
  }
  const changeType = req.query.get("changeType");
  if (changeType !== null && !["created", "updated", "deleted"].includes(changeType)) {
    return { ok: false, response: graphError(400, "BadRequest", `Invalid value '${changeType}' for changeType; use created, updated or deleted.`) };
  }
  const topRaw = req.query.get("$top");
  const top = topRaw !== null && /^\d+$/.test(topRaw) && Number(topRaw) > 0 ? Number(topRaw) : null;
  return {
    ok: true,
    value: {
      g,
      u: userId,
      f: folder,
      initial: true,
      since: 0,
      upto: 0,
      after: 0,
      select: select.value,
      changeType: changeType as DeltaState["changeType"],
      received: clause ? { op: clause.op as "ge" | "gt", value: String(clause.value) } : null,
      top,
    },
  };
}
