import { controlBody, graphError, json, readJson, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type Route } from "./context.js";
import { authorizeMailbox, authorizeUserRead, mailRead, mailWrite } from "./graph-auth.js";
import { deltaRoutes } from "./graph-delta.js";
import { checkFilterOrder, intOption, matches, parseFilter, parseOrderBy, parseSelect, sortMessages } from "./graph-query.js";
import { sendMailRoutes } from "./graph-send.js";
import { addMessage, deleteMessage, folderJson, isRefused, messageJson, resolveFolder, setReadFlag, wellKnownFolders } from "./graph-store.js";
import type { StoredMessage, User } from "./state.js";

/** Graph's largest page of messages (https://learn.microsoft.com/graph/api/user-list-messages). */
const MAX_TOP = 1000;
const DEFAULT_TOP = 10;

const notFound = () => graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.");

function preferText(req: EmulatorRequest): boolean {
  return /outlook\.body-content-type\s*=\s*"?text"?/i.test(String(req.headers.prefer ?? ""));
}

/** Graph v1.0 mail: users, folders, messages, $value, PATCH isRead, DELETE, delta, sendMail; and the emulator's mail switches. */
export function graphMailRoutes(ctx: EmulatorContext): Route[] {
  const { state } = ctx;

  /** The message a path names, in the folder the path names (if any), in this user's mailbox. */
  const findMessage = (user: User, req: EmulatorRequest): StoredMessage | EmulatorResponse => {
    let folder: string | null = null;
    if (req.params.folder !== undefined) {
      folder = resolveFolder(user.id, req.params.folder);
      if (!folder) return notFound();
    }
    const m = state.messages.get(req.params.id ?? "");
    if (!m || m.userId !== user.id || m.deleted || (folder !== null && m.folder !== folder)) return notFound();
    return m;
  };

  const getUser = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeUserRead(ctx, req, req.params.user ?? "me");
    if (!auth.ok) return auth.response;
    const u = auth.value.user;
    const tenant = auth.value.caller.tenant;
    return json(200, {
      "@odata.context": `${ctx.url}/v1.0/$metadata#users/$entity`,
      businessPhones: [],
      displayName: u.displayName,
      givenName: null,
      jobTitle: null,
      mail: u.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      surname: null,
      userPrincipalName: u.mail.includes("@") ? u.mail : `${u.mail}@${tenant.domain}`,
      id: u.id,
    });
  };

  const listFolders = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailRead);
    if (!auth.ok) return auth.response;
    const { user } = auth.value;
    return json(200, {
      "@odata.context": `${ctx.url}/v1.0/$metadata#users('${user.id}')/mailFolders`,
      value: Object.keys(wellKnownFolders).map((f) => folderJson(ctx, user.id, f)),
    });
  };

  const getFolder = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailRead);
    if (!auth.ok) return auth.response;
    const { user } = auth.value;
    const folder = resolveFolder(user.id, req.params.folder ?? "");
    if (!folder) return notFound();
    return json(200, { "@odata.context": `${ctx.url}/v1.0/$metadata#users('${user.id}')/mailFolders/$entity`, ...folderJson(ctx, user.id, folder) });
  };

  const listMessages = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailRead);
    if (!auth.ok) return auth.response;
    const { user } = auth.value;
    let folder: string | null = null;
    if (req.params.folder !== undefined) {
      folder = resolveFolder(user.id, req.params.folder);
      if (!folder) return notFound();
    }
    const select = parseSelect(req.query.get("$select"));
    if (!select.ok) return select.response;
    const filter = parseFilter(req.query.get("$filter"));
    if (!filter.ok) return filter.response;
    const orderRaw = req.query.get("$orderby");
    const order = parseOrderBy(orderRaw);
    if (!order.ok) return order.response;
    const inefficient = checkFilterOrder(filter.value, order.value, orderRaw !== null);
    if (inefficient) return inefficient;
    const top = intOption(req.query.get("$top"), "$top", DEFAULT_TOP);
    if (!top.ok) return top.response;
    if (top.value < 1) return graphError(400, "BadRequest", `Invalid value '${top.value}' for query option '$top'.`);
    const skip = intOption(req.query.get("$skip"), "$skip", 0);
    if (!skip.ok) return skip.response;
    const pageSize = Math.min(top.value, MAX_TOP);
    const expand = req.query.get("$expand");
    if (expand !== null) {
      const checked = expandSize(expand, null);
      if (checked && "status" in checked) return checked;
    }

    const all = [...state.messages.values()].filter((m) => m.userId === user.id && !m.deleted && (folder === null || m.folder === folder));
    const found = sortMessages(all.filter((m) => matches(m, filter.value)), order.value);
    const page = found.slice(skip.value, skip.value + pageSize);
    const body: Record<string, unknown> = {
      "@odata.context": `${ctx.url}/v1.0/$metadata#users('${user.id}')/messages${select.value ? `(${select.value.join(",")})` : ""}`,
      value: page.map((m) => ({ ...messageJson(m, select.value, preferText(req)), ...(expand === null ? {} : expandSize(expand, m)) })),
    };
    if (skip.value + pageSize < found.length) {
      // Graph pages messages with $skip and keeps the other options in the link
      const params: string[] = [];
      for (const [k, v] of req.query) if (k !== "$skip" && k !== "$top") params.push(`${k}=${encodeURIComponent(v)}`);
      params.push(`$top=${pageSize}`, `$skip=${skip.value + pageSize}`);
      body["@odata.nextLink"] = `${ctx.url}${req.path}?${params.join("&")}`;
    }
    return json(200, body);
  };

  const getMessage = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailRead);
    if (!auth.ok) return auth.response;
    const found = findMessage(auth.value.user, req);
    if ("status" in found) return found;
    const select = parseSelect(req.query.get("$select"));
    if (!select.ok) return select.response;
    const expand = expandSize(req.query.get("$expand"), found);
    if (expand && "status" in expand) return expand;
    return json(200, {
      "@odata.context": `${ctx.url}/v1.0/$metadata#users('${auth.value.user.id}')/messages/$entity`,
      ...messageJson(found, select.value, preferText(req)),
      ...expand,
    });
  };

  /** The MIME as stored, byte for byte; Graph sends it as text/plain (https://learn.microsoft.com/graph/outlook-get-mime-message). */
  const getMime = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailRead);
    if (!auth.ok) return auth.response;
    const found = findMessage(auth.value.user, req);
    if ("status" in found) return found;
    if (isRefused(ctx, found)) {
      return graphError(500, "ErrorCorruptData", "The item is corrupt and cannot be read.");
    }
    return { status: 200, headers: { "content-type": "text/plain", "request-id": crypto.randomUUID() }, body: found.mime };
  };

  const patchMessage = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailWrite);
    if (!auth.ok) return auth.response;
    const found = findMessage(auth.value.user, req);
    if ("status" in found) return found;
    let patch: unknown;
    try {
      patch = readJson(req);
    } catch {
      return graphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
    }
    if (patch === undefined || patch === null || typeof patch !== "object") return graphError(400, "BadRequest", "Empty Payload. JSON content expected.");
    const isRead = (patch as { isRead?: unknown }).isRead;
    if (isRead !== undefined && typeof isRead !== "boolean") {
      return graphError(400, "BadRequest", "Cannot convert the literal to the expected type 'Edm.Boolean'.");
    }
    // only isRead is emulated; other writable properties are accepted and left as they are
    if (typeof isRead === "boolean") setReadFlag(ctx, found, isRead);
    return json(200, {
      "@odata.context": `${ctx.url}/v1.0/$metadata#users('${auth.value.user.id}')/messages/$entity`,
      ...messageJson(found, null, preferText(req)),
    });
  };

  const removeMessage = (req: EmulatorRequest): EmulatorResponse => {
    const auth = authorizeMailbox(ctx, req, req.params.user ?? "me", mailWrite);
    if (!auth.ok) return auth.response;
    const found = findMessage(auth.value.user, req);
    if ("status" in found) return found;
    deleteMessage(ctx, found);
    return { status: 204, headers: { "request-id": crypto.randomUUID() } };
  };

  const routes: Route[] = [...deltaRoutes(ctx), ...sendMailRoutes(ctx)];
  for (const prefix of ["/v1.0/users/:user", "/v1.0/me"]) {
    routes.push(
      { method: "GET", pattern: prefix, kind: "graph", handler: getUser },
      { method: "GET", pattern: `${prefix}/mailFolders`, kind: "graph", handler: listFolders },
      { method: "GET", pattern: `${prefix}/mailFolders/:folder`, kind: "graph", handler: getFolder },
      { method: "GET", pattern: `${prefix}/mailFolders/:folder/messages`, kind: "graph", handler: listMessages },
      { method: "GET", pattern: `${prefix}/mailFolders/:folder/messages/:id`, kind: "graph", handler: getMessage },
      { method: "GET", pattern: `${prefix}/mailFolders/:folder/messages/:id/$value`, kind: "graph", handler: getMime },
      { method: "PATCH", pattern: `${prefix}/mailFolders/:folder/messages/:id`, kind: "graph", handler: patchMessage },
      { method: "DELETE", pattern: `${prefix}/mailFolders/:folder/messages/:id`, kind: "graph", handler: removeMessage },
      { method: "GET", pattern: `${prefix}/messages`, kind: "graph", handler: listMessages },
      { method: "GET", pattern: `${prefix}/messages/:id`, kind: "graph", handler: getMessage },
      { method: "GET", pattern: `${prefix}/messages/:id/$value`, kind: "graph", handler: getMime },
      { method: "PATCH", pattern: `${prefix}/messages/:id`, kind: "graph", handler: patchMessage },
      { method: "DELETE", pattern: `${prefix}/messages/:id`, kind: "graph", handler: removeMessage },
    );
  }
  routes.push(...mailControlRoutes(ctx));
  return routes;
}

/** The emulator's own mail switches, for tests: nothing here is Microsoft's. */
function mailControlRoutes(ctx: EmulatorContext): Route[] {
  const { state } = ctx;
  return [
    {
      // a message arrives from outside, as if through Exchange's transport
      method: "POST",
      pattern: "/_emulator/deliver",
      kind: "control",
      handler: (req) => {
        const parsed = controlBody<{ to?: string; mime?: string; mimeBase64?: string; folder?: string; isRead?: boolean }>(req, "{to, mime | mimeBase64}");
        if ("response" in parsed) return parsed.response;
        const body = parsed.body;
        const found = state.findUser(body.to ?? "");
        if (!found) return json(404, { error: "not_found", error_description: `No user '${body.to ?? ""}' in any tenant of the emulator` });
        const folder = (body.folder ?? "inbox").toLowerCase();
        if (!(folder in wellKnownFolders)) return json(400, { error: "bad_request", error_description: `Unknown folder '${body.folder ?? ""}'` });
        const mime = body.mimeBase64 !== undefined ? Buffer.from(body.mimeBase64, "base64") : Buffer.from(body.mime ?? "", "utf8");
        // any bytes, as a mail server's local delivery stores what SMTP brought: mail without a header block, or none at all, happens
        const message = addMessage(ctx, { userId: found.user.id, folder, mime, isRead: body.isRead ?? false });
        return json(201, { id: message.id });
      },
    },
    {
      // from now on $value of this user's messages that contain the marker fails, as for a corrupt item
      method: "POST",
      pattern: "/_emulator/refuse",
      kind: "control",
      handler: (req) => {
        const body = (readJson(req) ?? {}) as { user?: string; marker?: string };
        const found = state.findUser(body.user ?? "");
        if (!found || !body.marker) return json(400, { error: "bad_request", error_description: "Send {user, marker} for a user of the emulator" });
        state.refusedMime.push({ userId: found.user.id, marker: body.marker });
        return json(200, { refused: state.refusedMime.length });
      },
    },
    {
      method: "GET",
      pattern: "/_emulator/messages",
      kind: "control",
      handler: (req) => {
        const found = state.findUser(req.query.get("user") ?? "");
        if (!found) return json(404, { error: "not_found", error_description: `No user '${req.query.get("user") ?? ""}'` });
        const folder = (req.query.get("folder") ?? "inbox").toLowerCase();
        const list = state
          .folderMessages(found.user.id, folder)
          .filter((m) => !m.deleted)
          .map((m) => ({ id: m.id, subject: m.subject, isRead: m.isRead, internetMessageId: m.internetMessageId, mimeBase64: m.mime.toString("base64") }));
        return json(200, list);
      },
    },
  ];
}

/** PidTagMessageSize (https://learn.microsoft.com/office/client-developer/outlook/mapi/pidtagmessagesize-canonical-property) */
const sizePropertyId = "Integer 0x0E08";

/**
 * $expand=singleValueExtendedProperties($filter=id eq 'Integer 0x0E08'): the one extended property the
 * emulator knows, the message's size (https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get).
 */
function expandSize(expand: string | null, m: StoredMessage | null): { singleValueExtendedProperties: { id: string; value: string }[] } | EmulatorResponse | null {
  if (expand === null) return null;
  const match = /^singleValueExtendedProperties\(\$filter=id eq '([^']+)'\)$/i.exec(expand.trim());
  if (!match) return graphError(400, "BadRequest", `Parsing OData Select and Expand failed: the emulator expands only singleValueExtendedProperties($filter=id eq '${sizePropertyId}').`);
  const wanted = (match[1] ?? "").toLowerCase() === sizePropertyId.toLowerCase();
  return { singleValueExtendedProperties: wanted && m ? [{ id: "Integer 0xe08", value: String(m.mime.length) }] : [] };
}
