import { createPublicKey, verify, type JsonWebKey } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import {
  ClientAuthError,
  ConfidentialClientApplication,
  InteractionRequiredAuthError,
  ServerError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from "@azure/msal-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultSeed, startEmulator, type Seed, type StartedEmulator } from "./index.js";

const tenantId = "8a7c3f0e-5b1d-4c2a-9e6f-0d1c2b3a4f5e";
const clientId = "3f2b1c4d-6e5f-4a7b-8c9d-0e1f2a3b4c5d";
const secret = "emulator-secret-0001";
/** an app registration with one Graph role and one Exchange delegated permission */
const limitedId = "5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d";
const limitedSecret = "limited-secret";
/** an app registration the tests switch through the control route (consent, secret expiry) */
const switchedId = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
const switchedSecret = "switched-secret";
const support = { id: "11111111-1111-4111-8111-111111111111", mail: "support@contoso.test", password: "Support-Password-1" };
const exchange = "https://outlook.office365.com";
const graph = "https://graph.microsoft.com";

const seed: Seed = {
  tenants: [
    {
      ...defaultSeed.tenants[0]!,
      clients: [
        ...defaultSeed.tenants[0]!.clients,
        { clientId: limitedId, clientSecret: limitedSecret, roles: ["Mail.Send"], scopes: ["IMAP.AccessAsUser.All"] },
        { clientId: switchedId, clientSecret: switchedSecret, roles: ["IMAP.AccessAsApp"], scopes: ["IMAP.AccessAsUser.All"] },
      ],
    },
  ],
};

let emulator: StartedEmulator;
let certDir: string;
let host: string;

beforeAll(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-entra-test-"));
  emulator = await startEmulator({ certDir, seed });
  host = new URL(emulator.url).host;
});

afterAll(async () => {
  await emulator?.close();
  fs.rmSync(certDir, { recursive: true, force: true });
});

/** A plain HTTPS request that trusts the emulator's CA; the JSON body parsed. */
function request(method: "GET" | "POST", url: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<NetworkResponse<unknown>> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
    const req = https.request(url, { method, headers, ca: emulator.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve({ status: res.statusCode ?? 0, headers: flat, body: text === "" ? {} : JSON.parse(text) });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const post = (urlPath: string, form: Record<string, string>) =>
  request("POST", `${emulator.url}${urlPath}`, { headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() });
const control = (urlPath: string, body: unknown) =>
  request("POST", `${emulator.url}${urlPath}`, { headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** The HTTP status of the last answer any MSAL application here got: MSAL keeps it on its error for client credentials only. */
let lastStatus = 0;

/** MSAL's network module on node:https with the emulator's CA; `rewrite` can send a URL elsewhere first. */
function networkClient(seen: string[] = [], rewrite: (url: string) => string = (u) => u): INetworkModule {
  const send = async <T>(method: "GET" | "POST", url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    seen.push(`${method} ${url}`);
    const res = await request(method, rewrite(url), { ...(options?.headers ? { headers: options.headers } : {}), ...(options?.body === undefined ? {} : { body: options.body }) });
    lastStatus = res.status;
    return res as NetworkResponse<T>;
  };
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>("GET", url, options),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>("POST", url, options),
  };
}

/**
 * A new MSAL application each time: MSAL caches tokens per instance and, after a 429/5xx, refuses the
 * same request for a while without asking the server.
 */
function app(opts: { id?: string; clientSecret?: string; tenant?: string; authorityMetadata?: string; seen?: string[] } = {}): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId: opts.id ?? clientId,
      clientSecret: opts.clientSecret ?? secret,
      authority: `${emulator.url}/${opts.tenant ?? tenantId}`,
      knownAuthorities: [host],
      ...(opts.authorityMetadata ? { authorityMetadata: opts.authorityMetadata } : {}),
    },
    system: { networkClient: networkClient(opts.seen) },
  });
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Error)) throw new Error("expected the token request to fail, it succeeded");
  return outcome;
}

/** Checks MSAL's error: its class, Entra's error code and AADSTS number, and the HTTP status of the token reply. */
function expectAadError(err: Error, kind: typeof ServerError | typeof InteractionRequiredAuthError, errorCode: string, aadsts: number, status: 400 | 401) {
  expect(err).toBeInstanceOf(kind);
  const e = err as ServerError;
  expect(e.errorCode).toBe(errorCode);
  expect(String(e.errorNo)).toBe(String(aadsts));
  expect(e.errorMessage).toContain(`AADSTS${aadsts}:`);
  expect(lastStatus).toBe(status);
  if (e.status !== undefined) expect(e.status).toBe(status);
}

afterEach(async () => {
  // the switched app registration and the clock go back to how the seed left them
  await control(`/_emulator/clients/${switchedId}`, { consented: true, secretExpiresAt: null, clientSecret: switchedSecret, roles: ["IMAP.AccessAsApp"], scopes: ["IMAP.AccessAsUser.All"] });
  emulator.state.clockOffsetMs = 0;
  emulator.state.tokenLifetimeSeconds = 3600;
});

describe("client credentials through the real MSAL", () => {
  it("issues an Exchange token with the client's Exchange roles, its tenant and a one-hour life", async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await app().acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] });
    expect(result).not.toBeNull();
    const claims = claimsOf(result!.accessToken);
    expect(claims.aud).toBe(exchange);
    expect(claims.tid).toBe(tenantId);
    expect(claims.iss).toBe(`${emulator.url}/${tenantId}/v2.0`);
    expect(claims.appid).toBe(clientId);
    expect((claims.roles as string[]).sort()).toEqual(["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp", "full_access_as_app"]);
    expect(claims.scp).toBeUndefined();
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
    expect(claims.exp as number).toBeGreaterThanOrEqual(before + 3600);
    expect(emulator.signer.verify(result!.accessToken)).not.toBeNull();
  });

  it("gives a Graph token only the Graph roles", async () => {
    const result = await app().acquireTokenByClientCredential({ scopes: [`${graph}/.default`] });
    const claims = claimsOf(result!.accessToken);
    expect(claims.aud).toBe(graph);
    expect((claims.roles as string[]).sort()).toEqual(["Mail.ReadWrite", "Mail.Send", "User.Read.All"]);
  });

  it("still issues a token to an app without a role on the resource, without roles", async () => {
    const result = await app({ id: limitedId, clientSecret: limitedSecret }).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] });
    const claims = claimsOf(result!.accessToken);
    expect(claims.aud).toBe(exchange);
    expect(claims).not.toHaveProperty("roles");
  });

  it("issues tokens for the lifetime the control route sets", async () => {
    expect((await control("/_emulator/token-lifetime", { seconds: 600 })).status).toBe(200);
    const res = await post(`/${tenantId}/oauth2/v2.0/token`, { grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: `${graph}/.default` });
    const body = res.body as { expires_in: number; access_token: string };
    expect(body.expires_in).toBe(600);
    const claims = claimsOf(body.access_token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect((await control("/_emulator/token-lifetime", { seconds: 0 })).status).toBe(400);
  });

  it("signs with the key published at /discovery/v2.0/keys", async () => {
    const result = await app().acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] });
    const jwks = (await request("GET", `${emulator.url}/${tenantId}/discovery/v2.0/keys`)).body as { keys: (JsonWebKey & { kid: string })[] };
    const [header, body, signature] = result!.accessToken.split(".") as [string, string, string];
    const kid = (JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { kid: string }).kid;
    const jwk = jwks.keys.find((k) => k.kid === kid);
    expect(jwk).toBeDefined();
    const ok = verify("sha256", Buffer.from(`${header}.${body}`), createPublicKey({ key: jwk!, format: "jwk" }), Buffer.from(signature, "base64url"));
    expect(ok).toBe(true);
  });

  it("accepts the tenant's domain in the authority and still issues for the tenant id", async () => {
    const result = await app({ tenant: "contoso.test" }).acquireTokenByClientCredential({ scopes: [`${graph}/.default`] });
    expect(claimsOf(result!.accessToken).tid).toBe(tenantId);
  });

  it("goes through instance discovery when the authority is not a known one", async () => {
    // the discovery call goes to Microsoft's host; this network client sends it to the emulator instead
    const seen: string[] = [];
    const redirected = new ConfidentialClientApplication({
      auth: { clientId, clientSecret: secret, authority: `${emulator.url}/${tenantId}` },
      system: { networkClient: networkClient(seen, (u) => u.replace("https://login.microsoftonline.com", emulator.url)) },
    });
    const result = await redirected.acquireTokenByClientCredential({ scopes: [`${graph}/.default`] });
    expect(claimsOf(result!.accessToken).aud).toBe(graph);
    expect(seen[0]).toMatch(/^GET https:\/\/login\.microsoftonline\.com\/common\/discovery\/instance\?/);
    expect(seen.some((s) => s.startsWith(`GET ${emulator.url}/${tenantId}/v2.0/.well-known/openid-configuration`))).toBe(true);
  });
});

describe("the password grant (ROPC) through the real MSAL", () => {
  it("issues a user token with scp and upn, caches the account, and renews silently with the refresh token", async () => {
    const application = app();
    const scopes = [`${exchange}/IMAP.AccessAsUser.All`];
    const result = await application.acquireTokenByUsernamePassword({ scopes, username: support.mail, password: support.password });
    const claims = claimsOf(result!.accessToken);
    expect(claims.aud).toBe(exchange);
    expect(claims.scp).toBe("IMAP.AccessAsUser.All");
    expect(claims.upn).toBe(support.mail);
    expect(claims.preferred_username).toBe(support.mail);
    expect(claims.oid).toBe(support.id);
    expect(claims).not.toHaveProperty("roles");
    expect(result!.account?.homeAccountId).toBe(`${support.id}.${tenantId}`);
    expect(result!.account?.username).toBe(support.mail);

    const accounts = await application.getTokenCache().getAllAccounts();
    expect(accounts.map((a) => a.username)).toEqual([support.mail]);
    const cached = await application.acquireTokenSilent({ account: accounts[0]!, scopes });
    expect(cached.fromCache).toBe(true);
    expect(cached.accessToken).toBe(result!.accessToken);

    const tokenRequests = async () => ((await request("GET", `${emulator.url}/_emulator/stats`)).body as { token: number }).token;
    const before = await tokenRequests();
    const renewed = await application.acquireTokenSilent({ account: accounts[0]!, scopes, forceRefresh: true });
    expect(renewed.fromCache).toBe(false);
    expect(renewed.accessToken).not.toBe(result!.accessToken);
    expect(claimsOf(renewed.accessToken).scp).toBe("IMAP.AccessAsUser.All");
    expect(await tokenRequests()).toBe(before + 1);
  });

  it("answers a user added through the control route", async () => {
    const added = await control("/_emulator/users", { mail: "new.agent@contoso.test", password: "New-Password-1" });
    expect(added.status).toBe(200);
    const { id } = added.body as { id: string; mail: string };
    const result = await app().acquireTokenByUsernamePassword({ scopes: [`${graph}/Mail.Send`], username: "new.agent@contoso.test", password: "New-Password-1" });
    expect(claimsOf(result!.accessToken)).toMatchObject({ aud: graph, oid: id, scp: "Mail.Send", upn: "new.agent@contoso.test" });
    expect((await control("/_emulator/users", { mail: "not an address" })).status).toBe(400);
  });

  it("refuses a refresh token it did not issue", async () => {
    const res = await post(`/${tenantId}/oauth2/v2.0/token`, { grant_type: "refresh_token", client_id: clientId, refresh_token: "1.Anot-ours", scope: `${graph}/Mail.Send` });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "invalid_grant", error_codes: [9002313] });
  });
});

describe("Entra's errors as MSAL reports them", () => {
  it("a wrong secret: invalid_client, AADSTS7000215, HTTP 401", async () => {
    const err = await failure(app({ clientSecret: "not-the-secret" }).acquireTokenByClientCredential({ scopes: [`${graph}/.default`] }));
    expectAadError(err, ServerError, "invalid_client", 7000215, 401);
  });

  it("an expired secret: invalid_client, AADSTS7000222, HTTP 401", async () => {
    await control(`/_emulator/clients/${switchedId}`, { secretExpiresAt: "2020-01-01T00:00:00Z" });
    const err = await failure(app({ id: switchedId, clientSecret: switchedSecret }).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }));
    expectAadError(err, ServerError, "invalid_client", 7000222, 401);
  });

  it("a secret expiry set through the control route takes effect at that time", async () => {
    const inAnHour = new Date(Date.now() + 3600_000).toISOString();
    expect((await control(`/_emulator/clients/${switchedId}`, { secretExpiresAt: inAnHour })).body).toMatchObject({ secretExpiresAt: inAnHour });
    const ok = await app({ id: switchedId, clientSecret: switchedSecret }).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] });
    expect(claimsOf(ok!.accessToken).roles).toEqual(["IMAP.AccessAsApp"]);
    await control("/_emulator/clock", { advanceSeconds: 2 * 3600 });
    const err = await failure(app({ id: switchedId, clientSecret: switchedSecret }).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }));
    expectAadError(err, ServerError, "invalid_client", 7000222, 401);
  });

  it("an unknown client id: unauthorized_client, AADSTS700016", async () => {
    const err = await failure(app({ id: "00000000-1111-4222-8333-444444444444" }).acquireTokenByClientCredential({ scopes: [`${graph}/.default`] }));
    expectAadError(err, ServerError, "unauthorized_client", 700016, 400);
  });

  it("an unknown tenant: MSAL cannot resolve the authority, and the token endpoint says invalid_request, AADSTS90002", async () => {
    const unknown = "0badc0de-0000-4000-8000-000000000000";
    const discovery = await failure(app({ tenant: unknown }).acquireTokenByClientCredential({ scopes: [`${graph}/.default`] }));
    expect(discovery).toBeInstanceOf(ClientAuthError);
    expect((discovery as ClientAuthError).errorCode).toBe("endpoints_resolution_error");
    const metadata = await request("GET", `${emulator.url}/${unknown}/v2.0/.well-known/openid-configuration`);
    expect(metadata.status).toBe(400);
    expect(metadata.body).toMatchObject({ error: "invalid_tenant", error_codes: [90002] });

    // with the metadata given, MSAL goes straight to the token endpoint, which refuses the tenant
    const known = (await request("GET", `${emulator.url}/${tenantId}/v2.0/.well-known/openid-configuration`)).body as Record<string, string>;
    const authorityMetadata = JSON.stringify(Object.fromEntries(Object.entries(known).map(([k, v]) => [k, typeof v === "string" ? v.replace(tenantId, unknown) : v])));
    const err = await failure(app({ tenant: unknown, authorityMetadata }).acquireTokenByClientCredential({ scopes: [`${graph}/.default`] }));
    expectAadError(err, ServerError, "invalid_request", 90002, 400);
  });

  it("an app without admin consent: invalid_grant, AADSTS65001, consent_required", async () => {
    await control(`/_emulator/clients/${switchedId}`, { consented: false });
    const err = await failure(app({ id: switchedId, clientSecret: switchedSecret }).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }));
    // the consent_required suberror makes MSAL throw its interaction-required error, as with Entra
    expectAadError(err, InteractionRequiredAuthError, "invalid_grant", 65001, 400);
    expect((err as InteractionRequiredAuthError).subError).toBe("consent_required");
  });

  it("a delegated permission the user's app has no consent for: AADSTS65001", async () => {
    const err = await failure(
      app({ id: limitedId, clientSecret: limitedSecret }).acquireTokenByUsernamePassword({ scopes: [`${exchange}/POP.AccessAsUser.All`], username: support.mail, password: support.password }),
    );
    expectAadError(err, InteractionRequiredAuthError, "invalid_grant", 65001, 400);
  });

  it("a user who must use MFA: invalid_grant, AADSTS50076", async () => {
    await control("/_emulator/users", { mail: "mfa.user@contoso.test", password: "Mfa-Password-1", signIn: "mfa" });
    const err = await failure(app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: "mfa.user@contoso.test", password: "Mfa-Password-1" }));
    expectAadError(err, InteractionRequiredAuthError, "invalid_grant", 50076, 400);
    expect((err as InteractionRequiredAuthError).subError).toBe("basic_action");
  });

  it("a locked account: invalid_grant, AADSTS50053", async () => {
    await control("/_emulator/users", { mail: "locked.user@contoso.test", password: "Locked-Password-1", signIn: "locked" });
    const err = await failure(app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: "locked.user@contoso.test", password: "Locked-Password-1" }));
    expectAadError(err, ServerError, "invalid_grant", 50053, 400);
  });

  it("a wrong password or an unknown user: invalid_grant, AADSTS50126", async () => {
    const wrong = await failure(app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: support.mail, password: "guess" }));
    expectAadError(wrong, ServerError, "invalid_grant", 50126, 400);
    const nobody = await failure(app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: "nobody@contoso.test", password: "guess" }));
    expectAadError(nobody, ServerError, "invalid_grant", 50126, 400);
  });

  it("a client-credentials scope without /.default: invalid_scope, AADSTS1002012", async () => {
    const err = await failure(app().acquireTokenByClientCredential({ scopes: [`${graph}/Mail.Read`] }));
    expectAadError(err, ServerError, "invalid_scope", 1002012, 400);
  });

  it("a permission the resource does not have: invalid_scope, AADSTS70011", async () => {
    const err = await failure(app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/Calendars.Fly`], username: support.mail, password: support.password }));
    expectAadError(err, ServerError, "invalid_scope", 70011, 400);
  });

  it("a grant type Entra does not know: unsupported_grant_type, AADSTS70003", async () => {
    const res = await post(`/${tenantId}/oauth2/v2.0/token`, { grant_type: "urn:example:magic", client_id: clientId, client_secret: secret });
    expect(res.status).toBe(400);
    const body = res.body as { error: string; error_description: string; error_codes: number[]; correlation_id: string; trace_id: string; timestamp: string; error_uri: string };
    expect(body.error).toBe("unsupported_grant_type");
    expect(body.error_codes).toEqual([70003]);
    expect(body.error_description).toMatch(/^AADSTS70003: .*\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(body.error_uri).toBe(`${emulator.url}/error?code=70003`);
  });

  it("echoes MSAL's correlation id in the error", async () => {
    const err = await failure(app({ clientSecret: "wrong" }).acquireTokenByClientCredential({ scopes: [`${graph}/.default`], correlationId: "6f1c5b0e-1111-4222-8333-444455556666" }));
    expect((err as ServerError).correlationId).toBe("6f1c5b0e-1111-4222-8333-444455556666");
  });
});

describe("introspection for Dovecot (RFC 7662)", () => {
  const introspect = (token: string, headers: Record<string, string> = {}) =>
    request("POST", `${emulator.url}/_emulator/introspect`, {
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ token, client_id: "dovecot", client_secret: "" }).toString(),
    });

  it("names the user of a delegated IMAP token", async () => {
    const result = await app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: support.mail, password: support.password });
    const res = await introspect(result!.accessToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active: true, email: support.mail, client_id: clientId, scope: "IMAP.AccessAsUser.All" });
  });

  it("answers an application token with its tenant's domain, as no user is named", async () => {
    const result = await app().acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] });
    expect((await introspect(result!.accessToken)).body).toMatchObject({ active: true, email: "*@contoso.test", client_id: clientId });
  });

  it("refuses a Graph token, a token without mail permission, a foreign token and an expired one, always with HTTP 200", async () => {
    const graphToken = (await app().acquireTokenByClientCredential({ scopes: [`${graph}/.default`] }))!.accessToken;
    const noRoles = (await app({ id: limitedId, clientSecret: limitedSecret }).acquireTokenByClientCredential({ scopes: [`${exchange}/.default`] }))!.accessToken;
    const imap = (await app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: support.mail, password: support.password }))!.accessToken;
    const [h, b] = imap.split(".");
    const forged = `${h}.${b}.${Buffer.from("not a signature").toString("base64url")}`;
    for (const token of [graphToken, noRoles, forged, "garbage", ""]) {
      const res = await introspect(token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
    expect((await introspect(imap)).body).toMatchObject({ active: true });
    await control("/_emulator/clock", { advanceSeconds: 3601 });
    expect((await introspect(imap)).body).toEqual({ active: false });
  });

  it("holds an IMAP login to the IMAP permission when Dovecot names the service", async () => {
    const imap = (await app().acquireTokenByUsernamePassword({ scopes: [`${exchange}/IMAP.AccessAsUser.All`], username: support.mail, password: support.password }))!.accessToken;
    expect((await introspect(imap, { "x-dovecot-auth-service": "imap" })).body).toMatchObject({ active: true });
    expect((await introspect(imap, { "x-dovecot-auth-service": "pop3" })).body).toEqual({ active: false });
  });
});

describe("metadata", () => {
  it("serves the OpenID configuration under both paths, by tenant id or domain, with the tenant id in every endpoint", async () => {
    for (const p of [`/${tenantId}/v2.0/.well-known/openid-configuration`, `/contoso.test/.well-known/openid-configuration`]) {
      const res = await request("GET", `${emulator.url}${p}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        issuer: `${emulator.url}/${tenantId}/v2.0`,
        token_endpoint: `${emulator.url}/${tenantId}/oauth2/v2.0/token`,
        authorization_endpoint: `${emulator.url}/${tenantId}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${emulator.url}/${tenantId}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${emulator.url}/${tenantId}/oauth2/v2.0/logout`,
        jwks_uri: `${emulator.url}/${tenantId}/discovery/v2.0/keys`,
      });
    }
  });

  it("answers instance discovery with the emulator's host as its own alias", async () => {
    const authorize = encodeURIComponent(`${emulator.url}/${tenantId}/oauth2/v2.0/authorize`);
    const res = await request("GET", `${emulator.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${authorize}`);
    expect(res.body).toMatchObject({
      tenant_discovery_endpoint: `${emulator.url}/${tenantId}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: expect.arrayContaining([{ preferred_network: host, preferred_cache: host, aliases: [host] }]) as unknown,
    });
  });

  it("refuses a bad control request instead of ignoring it", async () => {
    expect((await control(`/_emulator/clients/${switchedId}`, { secretExpiresAt: "soon" })).status).toBe(400);
    expect((await control(`/_emulator/clients/${switchedId}`, { roles: "IMAP.AccessAsApp" })).status).toBe(400);
    expect((await control("/_emulator/clients/no-such-client", { consented: true })).status).toBe(404);
  });
});
