import { json, readJson, type EmulatorContext, type EmulatorRequest, type EmulatorResponse, type Route } from "./context.js";
import type { Client, Tenant } from "./state.js";

/**
 * The emulator's own switches for Entra (not Microsoft's): change an app registration, add a user,
 * set the access-token lifetime. Tests use them to reach states that take an admin portal in Entra.
 */
export function entraControlRoutes(ctx: EmulatorContext): Route[] {
  return [
    { method: "POST", pattern: "/_emulator/clients/:clientId", kind: "control", handler: (req) => guarded(() => updateClient(ctx, req)) },
    { method: "POST", pattern: "/_emulator/users", kind: "control", handler: (req) => guarded(() => upsertUser(ctx, req)) },
    { method: "POST", pattern: "/_emulator/token-lifetime", kind: "control", handler: (req) => guarded(() => setTokenLifetime(ctx, req)) },
  ];
}

/** A request the switch cannot act on: answered 400 with the reason, so that a test's typo is not a silent no-op. */
class BadControlRequest extends Error {}

function guarded(fn: () => EmulatorResponse): EmulatorResponse {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BadControlRequest || err instanceof SyntaxError) return json(400, { error: "bad_request", error_description: err.message });
    throw err;
  }
}

function body(req: EmulatorRequest): Record<string, unknown> {
  const value = readJson(req) ?? {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new BadControlRequest("The body must be a JSON object");
  return value as Record<string, unknown>;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string")) throw new BadControlRequest(`${field} must be an array of strings`);
  return value;
}

function clientView(tenant: Tenant, c: Client) {
  return {
    tenantId: tenant.id,
    clientId: c.clientId,
    secretExpiresAt: c.secretExpiresAt?.toISOString() ?? null,
    consented: c.consented,
    roles: c.roles,
    scopes: c.scopes,
  };
}

function updateClient(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const clientId = req.params.clientId ?? "";
  let found: { tenant: Tenant; client: Client } | undefined;
  for (const tenant of ctx.state.tenants.values()) {
    const client = tenant.clients.get(clientId);
    if (client) found = { tenant, client };
  }
  if (!found) return json(404, { error: "not_found", error_description: `No app registration has the client id ${clientId}` });
  const b = body(req);
  const { client } = found;
  // checked whole before anything changes, so a bad field leaves the registration as it was
  const next: Partial<Client> = {};
  if ("secretExpiresAt" in b) {
    const v = b.secretExpiresAt;
    if (v === null) next.secretExpiresAt = null;
    else if (typeof v === "string" && !Number.isNaN(Date.parse(v))) next.secretExpiresAt = new Date(v);
    else throw new BadControlRequest("secretExpiresAt must be an ISO date-time or null");
  }
  if ("consented" in b) {
    if (typeof b.consented !== "boolean") throw new BadControlRequest("consented must be true or false");
    next.consented = b.consented;
  }
  if ("roles" in b) next.roles = stringList(b.roles, "roles");
  if ("scopes" in b) next.scopes = stringList(b.scopes, "scopes");
  if ("clientSecret" in b) {
    if (typeof b.clientSecret !== "string" || b.clientSecret === "") throw new BadControlRequest("clientSecret must be a non-empty string");
    next.clientSecret = b.clientSecret;
  }
  Object.assign(client, next);
  return json(200, clientView(found.tenant, client));
}

function upsertUser(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const b = body(req);
  const tenantKey = b.tenantId;
  if (tenantKey !== undefined && typeof tenantKey !== "string") throw new BadControlRequest("tenantId must be a string");
  // the first tenant of the seed when none is named: most setups have one
  const tenant = tenantKey === undefined ? ctx.state.tenants.values().next().value : ctx.state.tenant(tenantKey);
  if (!tenant) return json(404, { error: "not_found", error_description: `No tenant ${String(tenantKey)}` });
  if (typeof b.mail !== "string" || !/^[^@\s]+@[^@\s]+$/.test(b.mail)) throw new BadControlRequest("mail must be an e-mail address");
  for (const field of ["password", "displayName", "id"] as const) {
    if (b[field] !== undefined && typeof b[field] !== "string") throw new BadControlRequest(`${field} must be a string`);
  }
  const signIn = b.signIn;
  if (signIn !== undefined && signIn !== "ok" && signIn !== "mfa" && signIn !== "locked") throw new BadControlRequest(`signIn must be "ok", "mfa" or "locked"`);
  const existing = tenant.users.get(b.mail.toLowerCase());
  if (existing) {
    // an existing user is changed in place: a test locks a seeded user or gives it another password
    if (typeof b.password === "string") existing.password = b.password;
    if (typeof b.displayName === "string") existing.displayName = b.displayName;
    if (signIn !== undefined) existing.signIn = signIn;
    return json(200, { id: existing.id, mail: existing.mail, tenantId: tenant.id });
  }
  const user = ctx.state.addUser(tenant, {
    mail: b.mail,
    ...(typeof b.id === "string" ? { id: b.id } : {}),
    ...(typeof b.password === "string" ? { password: b.password } : {}),
    ...(typeof b.displayName === "string" ? { displayName: b.displayName } : {}),
    ...(signIn !== undefined ? { signIn } : {}),
  });
  return json(200, { id: user.id, mail: user.mail, tenantId: tenant.id });
}

function setTokenLifetime(ctx: EmulatorContext, req: EmulatorRequest): EmulatorResponse {
  const seconds = body(req).seconds;
  // Entra's configurable lifetimes start at 10 minutes; shorter ones are allowed here so that expiry can be tested
  if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1) throw new BadControlRequest("seconds must be a positive whole number");
  ctx.state.tokenLifetimeSeconds = seconds;
  return json(200, { seconds });
}
