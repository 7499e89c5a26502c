import { createHash, randomBytes } from "node:crypto";
import type { EmulatorContext } from "./context.js";
import { aad, type AadError } from "./entra-errors.js";
import { grantedFor, knownPermission, oidcScopes, parseScope, graphResource, type Resource } from "./entra-permissions.js";
import type { Client, Tenant, User } from "./state.js";
import type { AccessTokenClaims } from "./tokens.js";

/** What a grant needs: the tenant and client already checked, the request's form fields, the emulator's time. */
export interface GrantRequest {
  ctx: EmulatorContext;
  tenant: Tenant;
  client: Client;
  form: URLSearchParams;
  now: Date;
}

/** The token endpoint's success body (https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc#successful-authentication-response). */
export interface TokenReply {
  token_type: "Bearer";
  scope?: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  client_info?: string;
}

export type GrantOutcome = { ok: TokenReply } | { error: AadError };

/** What a refresh token stands for; the token itself is opaque, as Entra's are. */
interface RefreshGrant {
  tenantId: string;
  clientId: string;
  userId: string;
  /** the scopes of the request that got it: a refresh request without `scope` gets these again */
  scope: string;
  issuedAt: Date;
  lastUsedAt: Date;
}

/**
 * Refresh tokens expire after 90 days without use (https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime);
 * using one does not end it, Entra only hands out a new one beside it.
 */
const refreshInactivityMs = 90 * 24 * 3600 * 1000;

const refreshTokens = new WeakMap<EmulatorContext, Map<string, RefreshGrant>>();

function refreshStore(ctx: EmulatorContext): Map<string, RefreshGrant> {
  let store = refreshTokens.get(ctx);
  if (!store) {
    store = new Map();
    refreshTokens.set(ctx, store);
  }
  return store;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
const opaqueId = (bytes: number) => randomBytes(bytes).toString("base64url");

/** A stable GUID-shaped id from a name: the client's service principal in a tenant, a user's pairwise subject. */
function derivedGuid(name: string): string {
  const h = createHash("sha256").update(name).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function issuerOf(ctx: EmulatorContext, tenant: Tenant): string {
  return `${ctx.url}/${tenant.id}/v2.0`;
}

function accessToken(r: GrantRequest, resource: Resource, extra: Partial<AccessTokenClaims> & Record<string, unknown>): { token: string; lifetime: number } {
  const lifetime = r.ctx.state.tokenLifetimeSeconds;
  const iat = seconds(r.now);
  const claims = {
    aud: resource.uri,
    iss: issuerOf(r.ctx, r.tenant),
    iat,
    nbf: iat,
    exp: iat + lifetime,
    appid: r.client.clientId,
    azp: r.client.clientId,
    appidacr: "1",
    tid: r.tenant.id,
    oid: derivedGuid(`sp:${r.tenant.id}:${r.client.clientId}`),
    sub: derivedGuid(`sp:${r.tenant.id}:${r.client.clientId}`),
    ver: "2.0" as const,
    uti: opaqueId(16),
    ...extra,
  };
  return { token: r.ctx.signer.sign(claims), lifetime };
}

/** grant_type=client_credentials (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow). */
export function clientCredentialsGrant(r: GrantRequest): GrantOutcome {
  const scope = (r.form.get("scope") ?? "").trim();
  if (scope === "") return { error: aad.missingParameter("scope") };
  const parsed = scope.split(/\s+/).map(parseScope);
  const notDefault = parsed.find((p) => p.permission !== ".default");
  if (notDefault) return { error: aad.clientCredentialsScope(notDefault.raw) };
  const first = parsed[0];
  if (!first) return { error: aad.missingParameter("scope") };
  if (!first.resource) return { error: aad.resourceNotFound(first.resourceText, r.tenant.domain) };
  if (new Set(parsed.map((p) => p.resource?.uri ?? p.resourceText)).size > 1) return { error: aad.severalResources(scope) };
  if (!r.client.consented) return { error: aad.consentMissing(r.client.clientId) };
  const resource = first.resource;
  const roles = grantedFor(resource, r.client.roles, "application");
  // an app with no permission on the resource still gets a token, only without roles: the API refuses it
  const { token, lifetime } = accessToken(r, resource, { idtyp: "app", ...(roles.length > 0 ? { roles } : {}) });
  return { ok: { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: token } };
}

interface DelegatedScopes {
  resource: Resource;
  /** the granted permissions, in the resource's spelling */
  permissions: string[];
  /** the scope string of the reply: the permissions as they were asked for, then the OpenID scopes asked for */
  replyScope: string;
  oidc: Set<string>;
}

interface RequestedScopes {
  resource: Resource;
  /** `.default` (or nothing but OpenID scopes): every consented permission of the resource */
  wantsDefault: boolean;
  /** the named permissions in the resource's spelling, with the scope as it was sent */
  named: { name: string; raw: string }[];
  oidc: Set<string>;
}

/**
 * Reads a delegated request's scopes: one resource's permissions (bare names mean Graph) plus OpenID
 * scopes. Entra refuses a malformed scope before it looks at the user's password.
 */
function requestedScopes(r: GrantRequest, scope: string): { ok: RequestedScopes } | { error: AadError } {
  const words = scope.split(/\s+/).filter((w) => w !== "");
  const oidc = new Set(words.filter((w) => oidcScopes.has(w.toLowerCase())).map((w) => w.toLowerCase()));
  const parsed = words.filter((w) => !oidcScopes.has(w.toLowerCase())).map(parseScope);
  const unknown = parsed.find((p) => !p.resource);
  if (unknown) return { error: aad.resourceNotFound(unknown.resourceText, r.tenant.domain) };
  if (new Set(parsed.map((p) => p.resource?.uri)).size > 1) return { error: aad.severalResources(scope) };
  // only OpenID scopes: Entra signs the user in to Microsoft Graph with what was consented there
  const resource = parsed[0]?.resource ?? graphResource;
  const wantsDefault = parsed.length === 0 || parsed.some((p) => p.permission === ".default");
  if (wantsDefault && parsed.length > 1) return { error: aad.scopeNotValid(scope) };
  const named: RequestedScopes["named"] = [];
  if (!wantsDefault) {
    for (const p of parsed) {
      const name = knownPermission(resource, p.permission, "delegated");
      if (!name) return { error: aad.scopeNotValid(p.raw) };
      named.push({ name, raw: p.raw });
    }
  }
  return { ok: { resource, wantsDefault, named, oidc } };
}

/** What the client may have of what was asked for; a named permission without consent refuses the whole request. */
function consentedScopes(r: GrantRequest, requested: RequestedScopes): { ok: DelegatedScopes } | { error: AadError } {
  if (!r.client.consented) return { error: aad.consentMissing(r.client.clientId) };
  const { resource, oidc } = requested;
  const consented = grantedFor(resource, r.client.scopes, "delegated");
  if (requested.wantsDefault) {
    const replyScope = [...consented.map((p) => `${resource.uri}/${p}`), ...oidc].join(" ");
    return { ok: { resource, permissions: consented, replyScope, oidc } };
  }
  if (requested.named.some((n) => !consented.includes(n.name))) return { error: aad.consentMissing(r.client.clientId) };
  const replyScope = [...requested.named.map((n) => n.raw), ...oidc].join(" ");
  return { ok: { resource, permissions: requested.named.map((n) => n.name), replyScope, oidc } };
}

/** The user's tokens: access token, and (as asked) id token, refresh token and client_info, so that MSAL caches the account. */
function userTokens(r: GrantRequest, user: User, scopes: DelegatedScopes, requestScope: string): TokenReply {
  const { token, lifetime } = accessToken(r, scopes.resource, {
    idtyp: "user",
    acr: "1",
    amr: ["pwd"],
    name: user.displayName,
    oid: user.id,
    sub: derivedGuid(`sub:${user.id}:${r.client.clientId}`),
    upn: user.mail,
    unique_name: user.mail,
    preferred_username: user.mail,
    scp: scopes.permissions.join(" "),
  });
  const reply: TokenReply = { token_type: "Bearer", scope: scopes.replyScope, expires_in: lifetime, ext_expires_in: lifetime, access_token: token };
  if (scopes.oidc.has("openid")) {
    const iat = seconds(r.now);
    reply.id_token = r.ctx.signer.sign({
      aud: r.client.clientId,
      iss: issuerOf(r.ctx, r.tenant),
      iat,
      nbf: iat,
      exp: iat + 3600,
      name: user.displayName,
      oid: user.id,
      preferred_username: user.mail,
      ...(scopes.oidc.has("email") ? { email: user.mail } : {}),
      sub: derivedGuid(`sub:${user.id}:${r.client.clientId}`),
      tid: r.tenant.id,
      uti: opaqueId(16),
      ver: "2.0",
    });
  }
  if (scopes.oidc.has("offline_access")) {
    const refresh = `1.A${opaqueId(96)}`;
    refreshStore(r.ctx).set(refresh, { tenantId: r.tenant.id, clientId: r.client.clientId, userId: user.id, scope: requestScope, issuedAt: r.now, lastUsedAt: r.now });
    reply.refresh_token = refresh;
  }
  // MSAL asks for it (client_info=1) and keys the cached account by it (https://learn.microsoft.com/entra/identity-platform/msal-acquire-cache-tokens)
  if (r.form.get("client_info") === "1") reply.client_info = Buffer.from(JSON.stringify({ uid: user.id, utid: r.tenant.id })).toString("base64url");
  return reply;
}

/** grant_type=password, ROPC (https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc). */
export function passwordGrant(r: GrantRequest): GrantOutcome {
  const username = r.form.get("username") ?? "";
  const password = r.form.get("password") ?? "";
  const scope = (r.form.get("scope") ?? "").trim();
  if (username === "") return { error: aad.missingParameter("username") };
  if (password === "") return { error: aad.missingParameter("password") };
  if (scope === "") return { error: aad.missingParameter("scope") };
  const requested = requestedScopes(r, scope);
  if ("error" in requested) return requested;
  const user = r.tenant.users.get(username.toLowerCase());
  // a locked account is refused whatever the password (smart lockout); MFA and consent come only after the password was right
  if (user?.signIn === "locked") return { error: aad.accountLocked() };
  if (!user || user.password !== password) return { error: aad.badCredentials() };
  if (user.signIn === "mfa") return { error: aad.mfaRequired(requested.ok.resource.appId) };
  const scopes = consentedScopes(r, requested.ok);
  if ("error" in scopes) return scopes;
  return { ok: userTokens(r, user, scopes.ok, scope) };
}

/** grant_type=refresh_token, for tokens the password grant handed out (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token). */
export function refreshTokenGrant(r: GrantRequest): GrantOutcome {
  const token = r.form.get("refresh_token") ?? "";
  if (token === "") return { error: aad.missingParameter("refresh_token") };
  const grant = refreshStore(r.ctx).get(token);
  if (!grant) return { error: aad.refreshTokenMalformed() };
  if (grant.clientId !== r.client.clientId || grant.tenantId !== r.tenant.id) return { error: aad.refreshTokenOtherClient() };
  const idleMs = r.now.getTime() - grant.lastUsedAt.getTime();
  if (idleMs > refreshInactivityMs) return { error: aad.refreshTokenExpired(grant.issuedAt, `${Math.floor(idleMs / 86_400_000)} days`) };
  const user = r.tenant.users.get(grant.userId);
  if (!user) return { error: aad.refreshTokenMalformed() };
  if (user.signIn === "locked") return { error: aad.accountLocked() };
  const scope = (r.form.get("scope") ?? "").trim() || grant.scope;
  const requested = requestedScopes(r, scope);
  if ("error" in requested) return requested;
  const scopes = consentedScopes(r, requested.ok);
  if ("error" in scopes) return scopes;
  grant.lastUsedAt = r.now;
  return { ok: userTokens(r, user, scopes.ok, scope) };
}
