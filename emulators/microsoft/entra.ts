import { json, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type Route } from "./context.js";
import { entraControlRoutes } from "./entra-control.js";
import { aad, aadErrorResponse, type AadError } from "./entra-errors.js";
import { clientCredentialsGrant, issuerOf, passwordGrant, refreshTokenGrant, type GrantOutcome, type GrantRequest } from "./entra-grants.js";
import { introspect } from "./entra-introspect.js";
import type { Tenant } from "./state.js";

/**
 * Entra ID v2 endpoints: token (client_credentials, password, refresh_token), OpenID metadata,
 * instance discovery, keys; plus the emulator's introspection endpoint for Dovecot and its Entra switches.
 *
 * Only the token endpoint is of kind "token" (counted, and subject to the fault switches): metadata is
 * fetched once per MSAL application, and a throttling rule meant for token requests would otherwise
 * hit the metadata request first and fail it with an error no real outage of the token endpoint gives.
 */
export function entraRoutes(ctx: EmulatorContext): Route[] {
  const metadata = (req: EmulatorRequest) => openIdConfiguration(ctx, req);
  return [
    // MSAL asks for {authority}/v2.0/.well-known/openid-configuration; the v1 path gets the same v2 document
    { method: "GET", pattern: "/:tenant/v2.0/.well-known/openid-configuration", kind: "control", handler: metadata },
    { method: "GET", pattern: "/:tenant/.well-known/openid-configuration", kind: "control", handler: metadata },
    { method: "GET", pattern: "/common/discovery/instance", kind: "control", handler: (req) => instanceDiscovery(ctx, req) },
    { method: "GET", pattern: "/:tenant/discovery/v2.0/keys", kind: "control", handler: (req) => keys(ctx, req) },
    { method: "GET", pattern: "/:tenant/discovery/keys", kind: "control", handler: (req) => keys(ctx, req) },
    { method: "POST", pattern: "/:tenant/oauth2/v2.0/token", kind: "token", handler: (req) => token(ctx, req) },
    // Dovecot's check of IMAP/POP logins stands in for Exchange's; Entra's fault switches do not reach it
    { method: "POST", pattern: "/_emulator/introspect", kind: "control", handler: (req) => introspect(ctx, req) },
    ...entraControlRoutes(ctx),
  ];
}

function unknownTenant(ctx: EmulatorContext, name: string, error?: string): EmulatorResponse {
  return aadErrorResponse(aad.tenantNotFound(name, error), { baseUrl: ctx.url, now: ctx.state.now() });
}

/**
 * The tenant's OpenID Provider metadata, shaped as
 * https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration answers
 * (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri).
 * The issuer carries the tenant id even when the tenant was named by a domain, as Entra's does; its
 * host is the authority's, which MSAL requires.
 */
function openIdConfiguration(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const name = req.params.tenant ?? "";
  const tenant = ctx.state.tenant(name);
  // Entra answers an unknown tenant here with error "invalid_tenant" (the token endpoint says invalid_request)
  if (!tenant) return unknownTenant(ctx, name, "invalid_tenant");
  const base = `${ctx.url}/${tenant.id}`;
  const host = new URL(ctx.url).host;
  return json(200, {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: issuerOf(ctx, tenant),
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${ctx.url}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: "EU",
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: host,
    rbac_url: "https://pas.windows.net",
  });
}

/** The hosts Entra's public cloud answers on; instance discovery names them as one another's aliases. */
const publicCloudAliases = ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"];

/**
 * Instance discovery, as MSAL calls it (GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…)
 * when an authority is not in knownAuthorities: it learns the authority's aliases and where the
 * tenant's metadata is. The emulator's host is its own only alias.
 */
function instanceDiscovery(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const host = new URL(ctx.url).host;
  let origin = ctx.url;
  let tenant = "common";
  const authorize = req.query.get("authorization_endpoint");
  if (authorize) {
    try {
      const u = new URL(authorize);
      origin = u.origin;
      tenant = u.pathname.split("/").filter((s) => s !== "")[0] ?? "common";
    } catch {
      // a malformed endpoint: discovery still names the emulator's own metadata
    }
  }
  return json(200, {
    tenant_discovery_endpoint: `${origin}/${tenant}/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [
      { preferred_network: host, preferred_cache: host, aliases: [host] },
      { preferred_network: "login.microsoftonline.com", preferred_cache: "login.windows.net", aliases: publicCloudAliases },
    ],
  });
}

function keys(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const name = req.params.tenant ?? "";
  // Entra serves the signing keys for "common" too: they are the same for every tenant
  if (name.toLowerCase() !== "common" && !ctx.state.tenant(name)) return unknownTenant(ctx, name);
  return json(200, ctx.signer.jwks());
}

/** client_secret_basic: `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). */
function basicCredentials(header: string | undefined): { clientId: string; secret: string } | null {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!m?.[1]) return null;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

const grants: Record<string, { secretRequired: boolean; run: (r: GrantRequest) => GrantOutcome }> = {
  client_credentials: { secretRequired: true, run: clientCredentialsGrant },
  // a confidential client may send its secret with the password and refresh grants; if it does, it must be right
  password: { secretRequired: false, run: passwordGrant },
  refresh_token: { secretRequired: false, run: refreshTokenGrant },
};

/** POST /{tenant}/oauth2/v2.0/token (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow). */
function token(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const now = ctx.state.now();
  const form = new URLSearchParams(req.body.toString("utf8"));
  const header = req.headers["client-request-id"];
  const correlationId = (Array.isArray(header) ? header[0] : header) ?? form.get("client-request-id") ?? req.query.get("client-request-id") ?? undefined;
  const fail = (e: AadError) => aadErrorResponse(e, { baseUrl: ctx.url, now, correlationId });

  const tenantName = req.params.tenant ?? "";
  const tenant: Tenant | undefined = ctx.state.tenant(tenantName);
  if (!tenant) return fail(aad.tenantNotFound(tenantName));
  const grantType = form.get("grant_type") ?? "";
  if (grantType === "") return fail(aad.missingParameter("grant_type"));
  const grant = grants[grantType];
  if (!grant) return fail(aad.unsupportedGrant(grantType));

  const basic = basicCredentials(req.headers.authorization);
  const clientId = basic?.clientId ?? form.get("client_id") ?? "";
  if (clientId === "") return fail(aad.missingParameter("client_id"));
  const client = tenant.clients.get(clientId);
  if (!client) return fail(aad.applicationNotFound(clientId, tenant.domain));
  const secret = basic?.secret ?? form.get("client_secret");
  if (secret === null || secret === "") {
    if (grant.secretRequired) return fail(aad.secretMissing());
  } else if (secret !== client.clientSecret) {
    return fail(aad.secretInvalid(client.clientId));
  } else if (client.secretExpiresAt && client.secretExpiresAt.getTime() < now.getTime()) {
    // the secret is the right one but past its end date: Entra says so rather than "invalid"
    return fail(aad.secretExpired(client.clientId));
  }

  const outcome = grant.run({ ctx, tenant, client, form, now });
  if ("error" in outcome) return fail(outcome.error);
  return json(200, outcome.ok, {
    "cache-control": "no-store, no-cache",
    pragma: "no-cache",
    ...(correlationId === undefined ? {} : { "client-request-id": correlationId }),
  });
}
