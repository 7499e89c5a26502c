import { randomBytes } from "node:crypto";
import { controlBody, json, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type Route } from "./context.js";
import { actingMailbox, EwsAuthenticator, type PasswordScheme } from "./ews-auth.js";
import type { EwsCall, EwsService } from "./ews-call.js";
import { createItem } from "./ews-create.js";
import { getFolder } from "./ews-folders.js";
import { getItem, updateItem } from "./ews-items.js";
import { EwsStreaming } from "./ews-streaming.js";
import { epochOf, syncFolderItems } from "./ews-sync.js";
import { child, messageText, parseXml, soapFault, soapResponse, type ResponseMessage, type XmlNode } from "./ews-xml.js";

/**
 * Exchange Web Services at POST /EWS/Exchange.asmx, over the same mailboxes and messages as Graph: the operations a mail
 * client needs (GetFolder, SyncFolderItems, GetItem, UpdateItem, CreateItem, streaming notifications), with Basic, NTLM
 * and OAuth, Exchange's per-message errors, and the emulator's switches under /_emulator/ews.
 */

type Operation = (call: EwsCall) => EmulatorResponse;

/** How many response messages an operation's answer has: one per item or folder asked about, else one. */
function messageCount(op: XmlNode): number {
  const list = { GetItem: "ItemIds", UpdateItem: "ItemChanges", GetFolder: "FolderIds", CreateItem: "Items" }[op.name];
  return Math.max(1, list ? (child(op, list)?.children.length ?? 0) : 1);
}

/**
 * Fault switches (POST /_emulator/faults) for EWS: throttling (429) and server errors (500) are what Exchange sends
 * when busy, HTTP 500 with an ErrorServerBusy SOAP fault and a back-off; 503 and 504 come from the front end in plain HTTP.
 */
export function ewsFaultResponse(status: number, retryAfterSeconds: number | null, headers: Record<string, string>): EmulatorResponse {
  if (status === 503 || status === 504) {
    return { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers }, body: status === 503 ? "Service Unavailable" : "Gateway Timeout" };
  }
  return soapFault("ErrorServerBusy", messageText("ErrorServerBusy"), retryAfterSeconds === null ? 2000 : retryAfterSeconds * 1000);
}

export function ewsRoutes(ctx: EmulatorContext): { routes: Route[]; stop(): void } {
  const { state } = ctx;
  const service: EwsService = { syncEpochs: new Map(), readOnly: new Set(), syncKey: randomBytes(32) };
  const auth = new EwsAuthenticator(ctx);
  const streaming = new EwsStreaming(ctx);
  const operations: Record<string, Operation> = {
    GetFolder: getFolder,
    SyncFolderItems: syncFolderItems,
    GetItem: getItem,
    UpdateItem: updateItem,
    CreateItem: createItem,
    Subscribe: (call) => streaming.subscribe(call),
    Unsubscribe: (call) => streaming.unsubscribe(call),
    GetStreamingEvents: (call) => streaming.getStreamingEvents(call),
  };

  /** An ewsError switch for this operation, used up by one request. */
  const injectedError = (operation: string): ResponseMessage | null => {
    const rule = state.faults.ewsErrors.find((r) => r.operation === operation && (r.remaining === null || r.remaining > 0));
    if (!rule) return null;
    if (rule.remaining !== null) rule.remaining -= 1;
    return { ok: false, code: rule.code, ...(rule.backOffMs === null ? {} : { backOffMs: rule.backOffMs }) };
  };

  const handler = (req: EmulatorRequest): EmulatorResponse => {
    // IIS authenticates before Exchange reads the body; X-AnchorMailbox (routing in Exchange Online) changes nothing here
    const authenticated = auth.authenticate(req);
    if (!authenticated.ok) return authenticated.response;
    const fault = ctx.fault("ews");
    if (fault) return fault;
    const identity = authenticated.identity;
    const doc = parseXml(req.body);
    const body = child(doc ?? undefined, "Body");
    if (!doc || doc.name !== "Envelope" || !body) return soapFault("ErrorSchemaValidation", "The request failed schema validation: the body is not a SOAP envelope.");
    const op = body.children[0];
    if (!op) return soapFault("ErrorSchemaValidation", "The request failed schema validation: the SOAP body is empty.");
    const operation = operations[op.name];
    if (!operation) return soapFault("ErrorInvalidRequest", "The request is invalid.");
    const mailbox = actingMailbox(state, identity, child(doc, "Header"));
    if (!mailbox.ok) return soapResponse(op.name, Array.from({ length: messageCount(op) }, () => mailbox));
    const injected = injectedError(op.name);
    if (injected) return soapResponse(op.name, Array.from({ length: messageCount(op) }, () => injected));
    return operation({ ctx, service, identity, user: mailbox.user, op });
  };

  /** A control route on one user's mailbox: POST {user, …} */
  const userRoute = (pattern: string, act: (userId: string, body: Record<string, unknown>) => EmulatorResponse): Route => ({
    method: "POST",
    pattern,
    kind: "control",
    handler: (req) => {
      const parsed = controlBody<Record<string, unknown>>(req, "{user, …}");
      if ("response" in parsed) return parsed.response;
      const user = typeof parsed.body.user === "string" ? parsed.body.user : "";
      const found = state.findUser(user);
      if (!found) return json(404, { error: "not_found", error_description: `No user '${user}' in any tenant of the emulator` });
      return act(found.user.id, parsed.body);
    },
  });

  const routes: Route[] = [
    { method: "POST", pattern: "/EWS/Exchange.asmx", kind: "ews", handler },
    // every SyncState issued so far for the user becomes invalid, as when Exchange loses them
    userRoute("/_emulator/ews/reset-sync", (userId) => {
      const epoch = epochOf(service, userId) + 1;
      service.syncEpochs.set(userId, epoch);
      return json(200, { epoch });
    }),
    // the mailbox refuses EWS writes (UpdateItem, CreateItem) with ErrorAccessDenied
    userRoute("/_emulator/ews/read-only", (userId, body) => {
      if (body.readOnly === false) service.readOnly.delete(userId);
      else service.readOnly.add(userId);
      return json(200, { readOnly: service.readOnly.has(userId) });
    }),
    userRoute("/_emulator/ews/drop-subscriptions", (userId) => json(200, { dropped: streaming.drop(userId) })),
    {
      // heartbeat interval and a cap on connection time, for the streams opened from now on
      method: "POST",
      pattern: "/_emulator/ews/streaming",
      kind: "control",
      handler: (req) => {
        const parsed = controlBody<{ heartbeatSeconds?: number; closeAfterMs?: number | null }>(req, "{heartbeatSeconds?, closeAfterMs?}");
        if ("response" in parsed) return parsed.response;
        const body = parsed.body;
        if (body.heartbeatSeconds !== undefined) {
          if (!(typeof body.heartbeatSeconds === "number" && body.heartbeatSeconds > 0)) return json(400, { error: "bad_request", error_description: "heartbeatSeconds must be a positive number" });
          streaming.settings.heartbeatMs = body.heartbeatSeconds * 1000;
        }
        if (body.closeAfterMs !== undefined) streaming.settings.closeAfterMs = body.closeAfterMs;
        return json(200, { heartbeatSeconds: streaming.settings.heartbeatMs / 1000, closeAfterMs: streaming.settings.closeAfterMs });
      },
    },
    { method: "GET", pattern: "/_emulator/ews/subscriptions", kind: "control", handler: () => json(200, streaming.list()) },
    {
      // which password schemes IIS offers: {"schemes": ["basic"]} is an Exchange with Windows authentication off
      method: "POST",
      pattern: "/_emulator/ews/auth",
      kind: "control",
      handler: (req) => {
        const parsed = controlBody<{ schemes?: unknown }>(req, '{schemes: ["ntlm" | "basic"]}');
        if ("response" in parsed) return parsed.response;
        const schemes = Array.isArray(parsed.body.schemes) ? parsed.body.schemes : [];
        if (schemes.length === 0 || !schemes.every((x): x is PasswordScheme => x === "ntlm" || x === "basic")) {
          return json(400, { error: "bad_request", error_description: "schemes must list one or both of \"ntlm\" and \"basic\"" });
        }
        auth.offered = new Set(schemes);
        return json(200, { schemes: [...auth.offered] });
      },
    },
  ];
  return { routes, stop: () => streaming.stop() };
}
