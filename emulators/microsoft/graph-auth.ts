import { graphError, type EmulatorContext, type EmulatorRequest, type EmulatorResponse } from "./context.js";
import type { Tenant, User } from "./state.js";
import type { AccessTokenClaims } from "./tokens.js";

/**
 * Who is calling Graph, from the bearer token. Application tokens carry `roles`, delegated tokens `scp`
 * (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
 */
export interface GraphCaller {
  claims: AccessTokenClaims;
  tenant: Tenant;
  appId: string;
  kind: "application" | "delegated";
  permissions: ReadonlySet<string>;
  /** the signed-in user (delegated tokens only) */
  userId: string | null;
  /** the token's expiry: subscriptions ask for reauthorization before it */
  expiresAt: Date;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; response: EmulatorResponse };

export const GRAPH_AUDIENCES = ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];

/** What each operation needs; application permissions end in .All where Microsoft names them so. */
export const mailRead = { application: ["Mail.Read", "Mail.ReadWrite"], delegated: ["Mail.Read", "Mail.ReadWrite"] };
export const mailWrite = { application: ["Mail.ReadWrite"], delegated: ["Mail.ReadWrite"] };
export const mailSend = { application: ["Mail.Send"], delegated: ["Mail.Send"] };
/**
 * Subscriptions on messages need read scope only; the page warns that write permissions may not be accepted where read
 * ones are documented, but real tenants do take Mail.ReadWrite, and the emulator's seed grants only that
 * (https://learn.microsoft.com/graph/api/subscription-post-subscriptions).
 */
export const mailSubscribe = {
  application: ["Mail.ReadBasic.All", "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"],
  delegated: ["Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"],
};
export type PermissionSet = typeof mailRead;

// Microsoft.IdentityModel, which Graph validates tokens with, allows five minutes of clock skew by default
const CLOCK_SKEW_SECONDS = 300;

/** Graph's challenge on a 401; clients read authorization_uri from it. */
const WWW_AUTHENTICATE =
  'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';

function unauthenticated(message: string): EmulatorResponse {
  return graphError(401, "InvalidAuthenticationToken", message, { "www-authenticate": WWW_AUTHENTICATE });
}

/** Checks the bearer token as Graph does: present, a JWT, signed by the emulator's Entra, for Graph, in time. */
export function authenticate(ctx: EmulatorContext, req: EmulatorRequest): Outcome<GraphCaller> {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(.*)$/i.exec(header);
  const token = match?.[1]?.trim() ?? "";
  if (token === "") return { ok: false, response: unauthenticated("Access token is empty.") };
  if (!token.includes(".")) {
    return {
      ok: false,
      response: unauthenticated(
        "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.",
      ),
    };
  }
  const claims = ctx.signer.verify(token);
  if (!claims) return { ok: false, response: unauthenticated("Access token validation failure.") };
  if (!GRAPH_AUDIENCES.includes(claims.aud)) return { ok: false, response: unauthenticated("Access token validation failure. Invalid audience.") };
  const now = ctx.state.now().getTime() / 1000;
  if (typeof claims.exp !== "number" || typeof claims.nbf !== "number" || claims.exp + CLOCK_SKEW_SECONDS <= now || claims.nbf - CLOCK_SKEW_SECONDS > now) {
    return { ok: false, response: unauthenticated("Access token has expired or is not yet valid.") };
  }
  const tenant = ctx.state.tenant(claims.tid ?? "");
  if (!tenant) return { ok: false, response: unauthenticated("Access token validation failure. Invalid issuer.") };
  const delegated = typeof claims.scp === "string" && claims.scp.trim() !== "";
  const permissions = new Set(delegated ? (claims.scp ?? "").split(" ").filter((s) => s !== "") : (claims.roles ?? []));
  return {
    ok: true,
    value: {
      claims,
      tenant,
      appId: claims.appid ?? claims.azp,
      kind: delegated ? "delegated" : "application",
      permissions,
      userId: delegated ? claims.oid : null,
      expiresAt: new Date(claims.exp * 1000),
    },
  };
}

export function hasPermission(caller: GraphCaller, needed: PermissionSet): boolean {
  return needed[caller.kind].some((p) => caller.permissions.has(p));
}

export function accessDenied(): EmulatorResponse {
  return graphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");
}

/** The user a path names ("me" for the signed-in user), looked up in the caller's tenant by id or mail, case-insensitively. */
export function findUser(caller: GraphCaller, idOrMail: string): User | undefined {
  if (idOrMail.toLowerCase() === "me") return caller.userId === null ? undefined : caller.tenant.users.get(caller.userId);
  return caller.tenant.users.get(idOrMail.toLowerCase()) ?? caller.tenant.users.get(idOrMail);
}

/**
 * The mailbox a mail request may touch: it exists in the caller's tenant, the token holds the permission, and a delegated
 * token only reaches the signed-in user's own mailbox (shared and delegated mailboxes are not emulated).
 */
export function authorizeMailbox(ctx: EmulatorContext, req: EmulatorRequest, userParam: string, needed: PermissionSet): Outcome<{ caller: GraphCaller; user: User }> {
  const auth = authenticate(ctx, req);
  if (!auth.ok) return auth;
  const caller = auth.value;
  if (userParam.toLowerCase() === "me" && caller.kind === "application") {
    return { ok: false, response: graphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.") };
  }
  if (!hasPermission(caller, needed)) return { ok: false, response: accessDenied() };
  const user = findUser(caller, userParam);
  if (!user) return { ok: false, response: graphError(404, "ErrorInvalidUser", `The requested user '${userParam}' is invalid.`) };
  if (caller.kind === "delegated" && user.id !== caller.userId) return { ok: false, response: accessDenied() };
  return { ok: true, value: { caller, user } };
}

/**
 * GET /users/{id} is a directory read, answered by Entra's directory with its own error codes: User.Read covers the
 * signed-in user only, User.ReadBasic.All / User.Read.All anyone (https://learn.microsoft.com/graph/api/user-get).
 */
export function authorizeUserRead(ctx: EmulatorContext, req: EmulatorRequest, userParam: string): Outcome<{ caller: GraphCaller; user: User }> {
  const auth = authenticate(ctx, req);
  if (!auth.ok) return auth;
  const caller = auth.value;
  if (userParam.toLowerCase() === "me" && caller.kind === "application") {
    return { ok: false, response: graphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.") };
  }
  const anyone = ["User.Read.All", "User.ReadWrite.All", "User.ReadBasic.All", "Directory.Read.All", "Directory.ReadWrite.All"];
  const denied = graphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
  const user = findUser(caller, userParam);
  const self = user !== undefined && user.id === caller.userId;
  const allowed = anyone.some((p) => caller.permissions.has(p)) || (self && caller.permissions.has("User.Read"));
  if (!allowed) return { ok: false, response: denied };
  if (!user) {
    return {
      ok: false,
      response: graphError(404, "Request_ResourceNotFound", `Resource '${userParam}' does not exist or one of its queried reference-property objects are not present.`),
    };
  }
  return { ok: true, value: { caller, user } };
}
