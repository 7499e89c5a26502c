import { randomUUID } from "node:crypto";
import { controlBody, graphError, json, readJson, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type MailChange, type Route } from "./context.js";
import { authenticate, findUser, hasPermission, mailSubscribe, type GraphCaller } from "./graph-auth.js";
import { Notifier } from "./graph-notify.js";
import { resolveFolder } from "./graph-store.js";
import type { Subscription } from "./state.js";

/**
 * Graph's limit for Outlook messages: the docs say 10,080 minutes (under 7 days), the service refuses anything past
 * 10,070 minutes with "Subscription expiration can only be 10070 minutes in the future."
 * (https://learn.microsoft.com/graph/api/resources/subscription#subscription-lifetime).
 */
export const MAX_MESSAGE_SUBSCRIPTION_MINUTES = 10_070;
/** reauthorizationRequired goes out this long before the subscription or its authorization runs out, and again every so often */
const REAUTHORIZE_BEFORE_MS = 15 * 60_000;
const SWEEP_MS = 1_000;

/** The subscription resource (https://learn.microsoft.com/graph/api/resources/subscription). */
function subscriptionJson(ctx: EmulatorContext, s: Subscription, entity: boolean): Record<string, unknown> {
  return {
    ...(entity ? { "@odata.context": `${ctx.url}/v1.0/$metadata#subscriptions/$entity` } : {}),
    id: s.id,
    resource: s.resource,
    applicationId: s.appId,
    changeType: s.changeType.join(","),
    clientState: s.clientState,
    notificationUrl: s.notificationUrl,
    notificationQueryOptions: null,
    lifecycleNotificationUrl: s.lifecycleNotificationUrl,
    expirationDateTime: s.expirationDateTime.toISOString(),
    creatorId: s.creatorId,
    includeResourceData: false,
    latestSupportedTlsVersion: "v1_2",
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationUrlAppId: null,
  };
}

/** Subscription errors come from Exchange through Graph's "extension" layer, hence ExtensionError with the inner reason. */
function extensionError(status: number, operation: string, reason: string, statusName: string): EmulatorResponse {
  return graphError(status, "ExtensionError", `Operation: ${operation}; Exception: [Status Code: ${statusName}; Reason: ${reason}]`);
}

const notFound = () => graphError(404, "ResourceNotFound", "The object was not found.");

/**
 * The mail resources the emulator takes: users/{id|mail} or me, then mailFolders('x') or mailFolders/x, then messages;
 * or messages alone (every folder). Case does not matter and a leading slash is allowed.
 */
function parseResource(resource: string): { user: string; folder: string | null } | null {
  const m = /^\/?(?:users\/([^/]+)|(me))\/(?:mailfolders(?:\('([^']+)'\)|\/([^/]+))\/)?messages\/?$/i.exec(resource.trim());
  if (!m) return null;
  const user = m[2] ? "me" : decodeURIComponent(m[1] ?? "").replace(/^\('?(.*?)'?\)$/, "$1");
  return { user, folder: m[3] ?? m[4] ?? null };
}

/**
 * notificationUrl must be https (https://learn.microsoft.com/graph/api/resources/subscription). Unless the emulator runs
 * strict, it also takes http on loopback so that tests need no certificate: a documented difference from Graph.
 */
function checkUrl(ctx: EmulatorContext, name: string, raw: unknown): string | EmulatorResponse {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    return graphError(400, "InvalidRequest", `Invalid ${name}='${String(raw)}'.`);
  }
  // kept as given: the subscription echoes it, and notifications go to it with its query string
  if (url.protocol === "https:") return String(raw);
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol === "http:" && loopback && !ctx.strict) return String(raw);
  return graphError(400, "InvalidRequest", `NotificationUrl scheme='${url.protocol.replace(":", "")}' is not supported.`);
}

function checkExpiration(ctx: EmulatorContext, raw: unknown, operation: string): Date | EmulatorResponse {
  const when = new Date(String(raw));
  if (raw === undefined || Number.isNaN(when.getTime())) return graphError(400, "InvalidRequest", "expirationDateTime is required and must be an ISO 8601 date-time.");
  const now = ctx.state.now().getTime();
  if (when.getTime() <= now) return extensionError(400, operation, "Subscription expiration must be in the future.", "BadRequest");
  if (when.getTime() > now + MAX_MESSAGE_SUBSCRIPTION_MINUTES * 60_000) {
    return graphError(400, "ExtensionError", `Subscription expiration can only be ${MAX_MESSAGE_SUBSCRIPTION_MINUTES} minutes in the future.`);
  }
  return when;
}

/** Graph subscriptions on messages, with the validation handshake and change / lifecycle notifications. */
export function subscriptionRoutes(ctx: EmulatorContext): { routes: Route[]; stop(): void } {
  const { state } = ctx;
  const notifier = new Notifier(ctx);

  /** A subscription that is still alive; expired ones are removed here and by the sweep, and stop notifying. */
  const live = (id: string): Subscription | undefined => {
    const s = state.subscriptions.get(id);
    if (s && s.expirationDateTime.getTime() <= state.now().getTime()) {
      state.subscriptions.delete(id);
      return undefined;
    }
    return s;
  };

  /** A subscription the calling app may see: subscriptions belong to the app (and tenant) that created them. */
  const own = (caller: GraphCaller, id: string): Subscription | undefined => {
    const s = live(id);
    return s && s.appId === caller.appId && s.tenantId === caller.tenant.id ? s : undefined;
  };

  const lifecycle = (s: Subscription, event: "reauthorizationRequired" | "subscriptionRemoved" | "missed") => {
    if (!s.lifecycleNotificationUrl) return;
    notifier.enqueue("lifecycle", s.lifecycleNotificationUrl, {
      subscriptionId: s.id,
      subscriptionExpirationDateTime: s.expirationDateTime.toISOString(),
      tenantId: s.tenantId,
      clientState: s.clientState,
      lifecycleEvent: event,
    });
  };

  const onChange = (change: MailChange) => {
    const now = state.now().getTime();
    for (const s of [...state.subscriptions.values()]) {
      if (!live(s.id)) continue;
      if (s.userId !== change.userId || (s.folder !== "*" && s.folder !== change.folder) || !s.changeType.includes(change.changeType)) continue;
      // Graph pauses change notifications of a subscription whose authorization ran out until it is reauthorized
      if (s.authorizedUntil.getTime() <= now) continue;
      const faults = state.faults;
      faults.dropAccumulated += faults.dropNotifications;
      if (faults.dropAccumulated >= 1 - 1e-9) {
        faults.dropAccumulated -= 1;
        faults.counts.notificationsDropped += 1;
        continue;
      }
      faults.counts.notificationsSent += 1;
      const message = state.messages.get(change.messageId);
      const resource = `Users/${change.userId}/Messages/${change.messageId}`;
      notifier.enqueue("change", s.notificationUrl, {
        subscriptionId: s.id,
        subscriptionExpirationDateTime: s.expirationDateTime.toISOString(),
        changeType: change.changeType,
        resource,
        resourceData: {
          "@odata.type": "#Microsoft.Graph.Message",
          "@odata.id": resource,
          "@odata.etag": message ? `W/"${message.changeKey}"` : undefined,
          id: change.messageId,
        },
        clientState: s.clientState,
        tenantId: s.tenantId,
      });
    }
  };
  ctx.changes.on("change", onChange);

  /**
   * Expiry, and the reauthorization challenge: Graph sends reauthorizationRequired when the access token behind a
   * subscription or the subscription itself is about to expire, repeating it while nothing is done
   * (https://learn.microsoft.com/graph/change-notifications-lifecycle-events). The emulator sends it 15 minutes before the
   * earlier of the two and every 15 minutes after, until a renewal or reauthorize call.
   */
  const sweep = () => {
    const now = state.now().getTime();
    for (const s of [...state.subscriptions.values()]) {
      if (!live(s.id) || !s.lifecycleNotificationUrl) continue;
      const deadline = Math.min(s.expirationDateTime.getTime(), s.authorizedUntil.getTime());
      const last = s.reauthorizationSentAt?.getTime() ?? null;
      if (deadline - now <= REAUTHORIZE_BEFORE_MS && (last === null || now - last >= REAUTHORIZE_BEFORE_MS)) {
        s.reauthorizationSentAt = new Date(now);
        lifecycle(s, "reauthorizationRequired");
      }
    }
  };
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();

  const create = async (req: EmulatorRequest): Promise<EmulatorResponse> => {
    const auth = authenticate(ctx, req);
    if (!auth.ok) return auth.response;
    const caller = auth.value;
    let body: Record<string, unknown>;
    try {
      body = (readJson(req) ?? {}) as Record<string, unknown>;
    } catch {
      return graphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
    }
    for (const field of ["changeType", "notificationUrl", "resource", "expirationDateTime"]) {
      if (typeof body[field] !== "string" || body[field] === "") return graphError(400, "InvalidRequest", `The property '${field}' is required.`);
    }
    const resource = String(body.resource);
    const target = parseResource(resource);
    if (!target) return graphError(400, "InvalidRequest", `Resource '${resource}' is not supported by the emulator: it takes users/{id}/mailFolders('{folder}')/messages and users/{id}/messages.`);
    if (target.user === "me" && caller.kind === "application") return graphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.");
    const user = findUser(caller, target.user);
    if (!user) return extensionError(404, "Create", `The requested user '${target.user}' is invalid.`, "NotFound");
    if (!hasPermission(caller, mailSubscribe) || (caller.kind === "delegated" && user.id !== caller.userId)) {
      return extensionError(403, "Create", "Access denied", "Forbidden");
    }
    let folder = "*";
    if (target.folder !== null) {
      const resolved = resolveFolder(user.id, target.folder);
      if (!resolved) return extensionError(404, "Create", "The specified object was not found in the store.", "NotFound");
      folder = resolved;
    }
    const changeType = String(body.changeType).split(",").map((c) => c.trim());
    if (changeType.some((c) => !["created", "updated", "deleted"].includes(c))) {
      return graphError(400, "InvalidRequest", `'${String(body.changeType)}' is not a valid changeType; use created, updated, deleted or a comma-separated list of them.`);
    }
    const expiration = checkExpiration(ctx, body.expirationDateTime, "Create");
    if (!(expiration instanceof Date)) return expiration;
    const notificationUrl = checkUrl(ctx, "notification url", body.notificationUrl);
    if (typeof notificationUrl !== "string") return notificationUrl;
    let lifecycleNotificationUrl: string | null = null;
    if (body.lifecycleNotificationUrl !== undefined && body.lifecycleNotificationUrl !== null) {
      const checked = checkUrl(ctx, "lifecycle notification url", body.lifecycleNotificationUrl);
      if (typeof checked !== "string") return checked;
      lifecycleNotificationUrl = checked;
    }
    const clientState = typeof body.clientState === "string" ? body.clientState : null;
    if (clientState !== null && clientState.length > 128) return graphError(400, "InvalidRequest", "clientState must be at most 128 characters.");

    // Graph validates the endpoints before it answers, both of them when a lifecycle URL is given
    for (const url of lifecycleNotificationUrl ? [notificationUrl, lifecycleNotificationUrl] : [notificationUrl]) {
      const result = await notifier.handshake(url);
      if (result === "mismatch") return graphError(400, "ValidationError", "Subscription validation request failed. Response must exactly match validationToken query parameter.");
      if (result !== "ok") {
        return graphError(400, "ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.");
      }
    }
    const subscription: Subscription = {
      id: randomUUID(),
      tenantId: caller.tenant.id,
      appId: caller.appId,
      resource,
      userId: user.id,
      folder,
      changeType,
      notificationUrl,
      lifecycleNotificationUrl,
      clientState,
      expirationDateTime: expiration,
      creatorId: caller.claims.oid,
      authorizedUntil: caller.expiresAt,
      reauthorizationSentAt: null,
    };
    state.subscriptions.set(subscription.id, subscription);
    return json(201, subscriptionJson(ctx, subscription, true));
  };

  /** Runs `fn` on the caller's own live subscription named in the path, or answers 401/404. */
  const withOwn = (req: EmulatorRequest, fn: (caller: GraphCaller, s: Subscription) => EmulatorResponse): EmulatorResponse => {
    const auth = authenticate(ctx, req);
    if (!auth.ok) return auth.response;
    const s = own(auth.value, req.params.id ?? "");
    return s ? fn(auth.value, s) : notFound();
  };

  const routes: Route[] = [
    { method: "POST", pattern: "/v1.0/subscriptions", kind: "graph", handler: create },
    {
      method: "GET",
      pattern: "/v1.0/subscriptions",
      kind: "graph",
      handler: (req) => {
        const auth = authenticate(ctx, req);
        if (!auth.ok) return auth.response;
        const mine = [...state.subscriptions.keys()].map((id) => own(auth.value, id)).filter((s): s is Subscription => s !== undefined);
        return json(200, { "@odata.context": `${ctx.url}/v1.0/$metadata#subscriptions`, value: mine.map((s) => subscriptionJson(ctx, s, false)) });
      },
    },
    { method: "GET", pattern: "/v1.0/subscriptions/:id", kind: "graph", handler: (req) => withOwn(req, (_c, s) => json(200, subscriptionJson(ctx, s, true))) },
    {
      method: "PATCH",
      pattern: "/v1.0/subscriptions/:id",
      kind: "graph",
      handler: (req) =>
        withOwn(req, (caller, s) => {
          let body: { expirationDateTime?: unknown };
          try {
            body = readJson(req) ?? {};
          } catch {
            return graphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
          }
          const expiration = checkExpiration(ctx, body.expirationDateTime, "Update");
          if (!(expiration instanceof Date)) return expiration;
          // renewing also reauthorizes (https://learn.microsoft.com/graph/change-notifications-lifecycle-events)
          s.expirationDateTime = expiration;
          s.authorizedUntil = caller.expiresAt;
          s.reauthorizationSentAt = null;
          return json(200, subscriptionJson(ctx, s, true));
        }),
    },
    {
      method: "DELETE",
      pattern: "/v1.0/subscriptions/:id",
      kind: "graph",
      handler: (req) =>
        withOwn(req, (_c, s) => {
          state.subscriptions.delete(s.id);
          return { status: 204, headers: { "request-id": randomUUID() } };
        }),
    },
    {
      method: "POST",
      pattern: "/v1.0/subscriptions/:id/reauthorize",
      kind: "graph",
      handler: (req) =>
        withOwn(req, (caller, s) => {
          // the token must still grant read access to the mailbox, as at creation
          const user = caller.tenant.users.get(s.userId);
          if (!user || !hasPermission(caller, mailSubscribe) || (caller.kind === "delegated" && user.id !== caller.userId)) {
            return extensionError(403, "Reauthorize", "Access denied", "Forbidden");
          }
          s.authorizedUntil = caller.expiresAt;
          s.reauthorizationSentAt = null;
          return { status: 204, headers: { "request-id": randomUUID() } };
        }),
    },
    ...lifecycleControlRoutes(ctx, live, lifecycle),
  ];
  return {
    routes,
    stop: () => {
      clearInterval(timer);
      ctx.changes.off("change", onChange);
      notifier.stop();
    },
  };
}

/** The emulator's switches for lifecycle events and a view of every subscription: not Microsoft's. */
function lifecycleControlRoutes(
  ctx: EmulatorContext,
  live: (id: string) => Subscription | undefined,
  lifecycle: (s: Subscription, event: "reauthorizationRequired" | "subscriptionRemoved" | "missed") => void,
): Route[] {
  return [
    {
      method: "POST",
      pattern: "/_emulator/lifecycle",
      kind: "control",
      handler: (req) => {
        const parsed = controlBody<{ subscriptionId?: string; event?: string }>(req, "{subscriptionId, event}");
        if ("response" in parsed) return parsed.response;
        const body = parsed.body;
        const event = body.event;
        if (event !== "reauthorizationRequired" && event !== "subscriptionRemoved" && event !== "missed") {
          return json(400, { error: "bad_request", error_description: "event must be reauthorizationRequired, subscriptionRemoved or missed" });
        }
        const s = live(body.subscriptionId ?? "");
        if (!s) return json(404, { error: "not_found", error_description: `No live subscription '${body.subscriptionId ?? ""}'` });
        if (!s.lifecycleNotificationUrl) {
          // Graph sends lifecycle notifications only to subscriptions created with a lifecycleNotificationUrl
          return json(409, {
            error: "no_lifecycle_url",
            error_description: "The subscription was created without a lifecycleNotificationUrl; Graph sends it no lifecycle notifications.",
          });
        }
        lifecycle(s, event);
        if (event === "subscriptionRemoved") ctx.state.subscriptions.delete(s.id);
        return json(202, { sent: event });
      },
    },
    {
      method: "GET",
      pattern: "/_emulator/subscriptions",
      kind: "control",
      handler: () =>
        json(
          200,
          [...ctx.state.subscriptions.keys()]
            .map((id) => live(id))
            .filter((s): s is Subscription => s !== undefined)
            .map((s) => ({ id: s.id, resource: s.resource, appId: s.appId, notificationUrl: s.notificationUrl, expirationDateTime: s.expirationDateTime.toISOString() })),
        ),
    },
  ];
}
