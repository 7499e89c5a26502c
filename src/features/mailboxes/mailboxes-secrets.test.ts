import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { adminApi, auditActions, createMailbox, inboundImap, outboundSmtp, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";
import type { MailSourceSettings } from "../../connectors/mail-source.js";
import { sealV1 } from "../../../test/support/legacy-secret.js";
import { SecretBox } from "../../crypto/secret-box.js";
import { secretContext } from "./mailboxes.secrets.js";

const oauthClientCredentials = {
  method: "oauth2",
  grant: "client_credentials",
  clientId: "11111111-2222-3333-4444-555555555555",
  directoryId: "66666666-7777-8888-9999-000000000000",
};

describe.each(testDialects())("mailbox secrets (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  let secretKey: Buffer;
  let secretBox: SecretBox;
  let tested: MailSourceSettings[];
  afterEach(async () => t?.close());

  async function start() {
    secretKey = randomBytes(32);
    secretBox = new SecretBox(secretKey);
    tested = [];
    t = await createTestApp(dialect, {}, {
      secretBox,
      mailSourceTester: async (_protocol, settings) => {
        tested.push(settings);
        return [{ step: "connect", ok: true, ms: 1 }];
      },
    });
    api = adminApi(t, await t.tokenFor("admin"));
  }

  const row = (id: string) => t.store.db.kysely.selectFrom("mailboxes").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const setSealed = (id: string, sealed: { password_sealed?: string | null; client_secret_sealed?: string | null }) =>
    t.store.db.kysely.updateTable("mailboxes").set(sealed).where("id", "=", id).execute();
  const openPassword = async (id: string) => secretBox.open((await row(id)).password_sealed!, secretContext(id, "password"));
  const openClientSecret = async (id: string) => secretBox.open((await row(id)).client_secret_sealed!, secretContext(id, "client_secret"));

  it("seals passwords and client secrets, and never shows or logs them", async () => {
    await start();
    const password = "Planted-Password-7f3a9c";
    const clientSecret = "Planted-ClientSecret-2b8e41";
    const newPassword = "Planted-NewPassword-c0ffee";
    const inbound = await createMailbox(api, inboundImap({ password }));
    const oauth = await createMailbox(
      api,
      inboundImap({ name: "graph", type: "GRAPH", host: "graph.microsoft.com", port: 443, password: undefined, auth: oauthClientCredentials, clientSecret }),
    );
    await createMailbox(api, outboundSmtp({ password }));
    await api.get("/api/v1/mailboxes");
    await api.get(`/api/v1/mailboxes/${inbound}`);
    await api.get(`/api/v1/mailboxes/${oauth}`);
    expect((await api.patch(`/api/v1/mailboxes/${inbound}`, { host: "imap2.acme.test", password: newPassword })).statusCode).toBe(200);
    expect((await api.patch(`/api/v1/mailboxes/${oauth}`, { clientSecret: `${clientSecret}-2` })).statusCode).toBe(200);
    // a refused change that carries a secret must not echo it either
    expect((await api.patch(`/api/v1/mailboxes/${inbound}`, { port: 0, password })).statusCode).toBe(400);
    expect((await api.post(`/api/v1/mailboxes/${inbound}/test`)).json().ok).toBe(true);
    await api.get("/api/v1/audit?limit=500");

    for (const res of api.responses) {
      for (const s of [password, clientSecret, newPassword]) expect(res.body, `${res.raw.req.method} ${res.raw.req.url}`).not.toContain(s);
    }
    for (const s of [password, clientSecret, newPassword]) expect(t.logText()).not.toContain(s);

    const shown = (await api.get(`/api/v1/mailboxes/${oauth}`)).json();
    expect(shown).toMatchObject({ passwordSet: false, clientSecretSet: true });
    expect(shown).not.toHaveProperty("password");
    expect(shown).not.toHaveProperty("clientSecret");

    const stored = await row(inbound);
    expect(stored.password_sealed).not.toContain(newPassword);
    expect(await openPassword(inbound)).toBe(newPassword);
    expect(await openClientSecret(oauth)).toBe(`${clientSecret}-2`);
    // the connection test got the opened password
    expect(await Promise.all(tested.map((s) => s.credentials.get()))).toEqual([{ method: "password", password: newPassword }]);

    const audit = await auditActions(api);
    const creates = audit.filter((a) => a.action === "mailbox.create");
    expect(creates.map((a) => a.changes.password ?? a.changes.clientSecret)).toEqual(["[secret]", "[secret]", "[secret]"]);
    expect(audit.find((a) => a.action === "mailbox.update" && a.target.id === inbound)?.changes).toMatchObject({
      host: "imap2.acme.test",
      password: "[secret]",
    });
  });

  it("requires the password again when host, port, mailbox or type changes", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const before = (await api.get(`/api/v1/mailboxes/${id}`)).json();
    for (const change of [{ host: "evil.example" }, { port: 143 }, { mailbox: "other@acme.test" }, { type: "POP3" }]) {
      const res = await api.patch(`/api/v1/mailboxes/${id}`, change);
      expect(res.statusCode, JSON.stringify(change)).toBe(400);
      expect(res.json().error).toMatchObject({ code: "password_required", details: [{ path: "password", message: expect.stringMatching(/password again/) }] });
    }
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json()).toEqual(before);
    expect((await auditActions(api)).filter((a) => a.action === "mailbox.update")).toEqual([]);

    // the same values again are no change
    expect((await api.patch(`/api/v1/mailboxes/${id}`, { host: "imap.acme.test", port: 993 })).statusCode).toBe(200);
    const moved = await api.patch(`/api/v1/mailboxes/${id}`, { host: "imap.other.test", port: 143, security: "starttls", password: "fresh-password-1" });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ host: "imap.other.test", port: 143, security: "starttls", passwordSet: true });
    expect(await openPassword(id)).toBe("fresh-password-1");
  });

  it("requires a password on create, and a client secret for OAuth client credentials", async () => {
    await start();
    const noPassword = await api.post("/api/v1/mailboxes", inboundImap({ password: undefined }));
    expect(noPassword.statusCode).toBe(400);
    expect(noPassword.json().error).toMatchObject({ code: "password_required", details: [{ path: "password" }] });
    const noSecret = await api.post("/api/v1/mailboxes", inboundImap({ password: undefined, auth: oauthClientCredentials }));
    expect(noSecret.statusCode).toBe(400);
    expect(noSecret.json().error).toMatchObject({ code: "password_required", details: [{ path: "clientSecret" }] });
    const ropc = { ...oauthClientCredentials, grant: "password" };
    const ropcNoPassword = await api.post("/api/v1/mailboxes", inboundImap({ password: undefined, auth: ropc, clientSecret: "s3cret-value" }));
    expect(ropcNoPassword.json().error).toMatchObject({ code: "password_required", details: [{ path: "password" }] });
    expect((await api.get("/api/v1/mailboxes")).json().items).toEqual([]);
  });

  it("stores OAuth 2.0 settings, with the Microsoft authority by default", async () => {
    await start();
    const res = await api.post("/api/v1/mailboxes", inboundImap({ auth: { ...oauthClientCredentials, grant: "password", secretExpiresAt: "2026-12-31" }, testMailbox: true }));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      auth: {
        method: "oauth2",
        grant: "password",
        clientId: oauthClientCredentials.clientId,
        directoryId: oauthClientCredentials.directoryId,
        tenantAuthority: "https://login.microsoftonline.com/",
        secretExpiresAt: "2026-12-31",
      },
      passwordSet: true,
      clientSecretSet: false,
      testMailbox: true,
    });
    const custom = await api.post(
      "/api/v1/mailboxes",
      inboundImap({ name: "cc", password: undefined, clientSecret: "s3cret-value", auth: { ...oauthClientCredentials, tenantAuthority: "https://login.example.test/" } }),
    );
    expect(custom.json().auth).toMatchObject({ grant: "client_credentials", tenantAuthority: "https://login.example.test/" });
    expect(custom.json()).toMatchObject({ passwordSet: false, clientSecretSet: true });
    expect(custom.json().auth.secretExpiresAt).toBeUndefined();
  });

  it("refuses invalid OAuth 2.0 settings field by field", async () => {
    await start();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ method: "basic" }, "auth.method", /password or oauth2/],
      [{ ...oauthClientCredentials, grant: "implicit" }, "auth.grant", /client_credentials or password/],
      [{ ...oauthClientCredentials, clientId: undefined }, "auth.clientId", /Application \(client\) ID/],
      [{ ...oauthClientCredentials, directoryId: " " }, "auth.directoryId", /Directory \(tenant\) ID/],
      [{ ...oauthClientCredentials, tenantAuthority: "http://login.microsoftonline.com/" }, "auth.tenantAuthority", /https URL/],
      [{ ...oauthClientCredentials, tenantAuthority: "login.microsoftonline.com" }, "auth.tenantAuthority", /https URL/],
      [{ ...oauthClientCredentials, secretExpiresAt: "next year" }, "auth.secretExpiresAt", /ISO date/],
      [{ ...oauthClientCredentials, scope: "all" }, "auth", /Unknown field\(s\): scope/],
    ];
    for (const [auth, path, message] of cases) {
      const res = await api.post("/api/v1/mailboxes", inboundImap({ auth, clientSecret: "s3cret-value" }));
      expect(res.statusCode, path).toBe(400);
      const detail = res.json().error.details.find((d: { path: string }) => d.path === path);
      expect(detail?.message, `${path}: ${res.body}`).toMatch(message);
    }
    const empty = await api.post("/api/v1/mailboxes", inboundImap({ clientSecret: "" }));
    expect(empty.json().error.details).toEqual([{ path: "clientSecret", message: "Client secret must not be empty" }]);
    expect((await api.get("/api/v1/mailboxes")).json().items).toEqual([]);
  });

  it("follows the reference's sign-in limits: Graph with client credentials only; OAuth 2.0 (XOAUTH2) also for POP3", async () => {
    await start();
    const graphWithPassword = await api.post("/api/v1/mailboxes", inboundImap({ type: "GRAPH", host: "graph.microsoft.com", port: 443 }));
    expect(graphWithPassword.statusCode).toBe(400);
    expect(graphWithPassword.json().error.details).toEqual([{ path: "auth", message: expect.stringMatching(/OAuth 2.0 client credentials/) }]);
    const graphRopc = await api.post("/api/v1/mailboxes", outboundSmtp({ type: "GRAPH", auth: { ...oauthClientCredentials, grant: "password" } }));
    expect(graphRopc.json().error.details).toEqual([{ path: "auth", message: expect.stringMatching(/client credentials/) }]);
    expect((await api.get("/api/v1/mailboxes")).json().items).toEqual([]);
    // the reference's E-mail Server lacked OAuth 2.0 for POP3; Mailroom signs in to POP3 with XOAUTH2 too
    const pop3Oauth = await api.post("/api/v1/mailboxes", inboundImap({ name: "pop3oauth", type: "POP3", port: 995, auth: { ...oauthClientCredentials, grant: "password" } }));
    expect(pop3Oauth.statusCode).toBe(201);
    expect((await api.del(`/api/v1/mailboxes/${pop3Oauth.json().id}`)).statusCode).toBe(204);

    const id = await createMailbox(api, inboundImap());
    const toGraph = await api.patch(`/api/v1/mailboxes/${id}`, { type: "GRAPH", password: "imap-password-1" });
    expect(toGraph.json().error.details).toEqual([{ path: "auth", message: expect.stringMatching(/client credentials/) }]);
    const graph = await api.patch(`/api/v1/mailboxes/${id}`, { type: "GRAPH", auth: oauthClientCredentials, clientSecret: "s3cret-value" });
    expect(graph.statusCode).toBe(200);
    expect(graph.json()).toMatchObject({ type: "GRAPH", auth: { grant: "client_credentials" }, clientSecretSet: true });
  });

  it("requires the client secret again when the app registration, authority or server changes", async () => {
    await start();
    const id = await createMailbox(
      api,
      inboundImap({ type: "GRAPH", host: "graph.microsoft.com", port: 443, password: undefined, auth: oauthClientCredentials, clientSecret: "s3cret-one" }),
    );
    const before = (await api.get(`/api/v1/mailboxes/${id}`)).json();
    for (const [change, what] of [
      [{ auth: { ...oauthClientCredentials, clientId: "aaaaaaaa-0000-0000-0000-000000000000" } }, "clientId"],
      [{ auth: { ...oauthClientCredentials, directoryId: "bbbbbbbb-0000-0000-0000-000000000000" } }, "directoryId"],
      [{ auth: { ...oauthClientCredentials, tenantAuthority: "https://login.attacker.test/" } }, "tenantAuthority"],
      [{ host: "graph.attacker.test" }, "host"],
    ] as const) {
      const res = await api.patch(`/api/v1/mailboxes/${id}`, change);
      expect(res.statusCode, what).toBe(400);
      expect(res.json().error, what).toMatchObject({ code: "password_required", details: [{ path: "clientSecret" }] });
    }
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json()).toEqual(before);
    // unchanged registration: nothing to retype
    expect((await api.patch(`/api/v1/mailboxes/${id}`, { auth: { ...oauthClientCredentials, secretExpiresAt: "2027-01-31" } })).statusCode).toBe(200);
    const changed = await api.patch(`/api/v1/mailboxes/${id}`, {
      auth: { ...oauthClientCredentials, clientId: "aaaaaaaa-0000-0000-0000-000000000000" },
      clientSecret: "s3cret-two",
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().auth.clientId).toBe("aaaaaaaa-0000-0000-0000-000000000000");
    expect(await openClientSecret(id)).toBe("s3cret-two");
  });

  it("requires the password again when it would go to a new token endpoint", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const toOauth = await api.patch(`/api/v1/mailboxes/${id}`, { auth: { ...oauthClientCredentials, grant: "password" } });
    expect(toOauth.json().error).toMatchObject({ code: "password_required", details: [{ path: "password" }] });
    const switched = await api.patch(`/api/v1/mailboxes/${id}`, { auth: { ...oauthClientCredentials, grant: "password" }, password: "imap-password-1" });
    expect(switched.statusCode).toBe(200);
    const otherAuthority = await api.patch(`/api/v1/mailboxes/${id}`, {
      auth: { ...oauthClientCredentials, grant: "password", tenantAuthority: "https://login.attacker.test/" },
    });
    expect(otherAuthority.json().error).toMatchObject({ code: "password_required", details: [{ path: "password" }] });
    // to client credentials: the secret is new, so it must come along
    const toCc = await api.patch(`/api/v1/mailboxes/${id}`, { auth: oauthClientCredentials });
    expect(toCc.json().error).toMatchObject({ code: "password_required", details: [{ path: "clientSecret" }] });
  });
  it("requires the password again when security is switched to or from none", async () => {
    await start();
    const tls = await createMailbox(api, inboundImap());
    const starttls = await createMailbox(api, inboundImap({ name: "starttls", port: 143, security: "starttls" }));
    for (const id of [tls, starttls]) {
      const before = (await api.get(`/api/v1/mailboxes/${id}`)).json();
      const res = await api.patch(`/api/v1/mailboxes/${id}`, { security: "none" });
      expect(res.statusCode, before.security).toBe(400);
      expect(res.json().error).toMatchObject({
        code: "password_required",
        details: [{ path: "password", message: expect.stringMatching(/password again.*security/) }],
      });
      expect((await api.get(`/api/v1/mailboxes/${id}`)).json()).toEqual(before);
    }
    expect((await auditActions(api)).filter((a) => a.action === "mailbox.update")).toEqual([]);

    // tls and starttls both encrypt, and the connectors insist on the upgrade: the password is not exposed
    expect((await api.patch(`/api/v1/mailboxes/${tls}`, { security: "starttls" })).statusCode).toBe(200);
    const clear = await api.patch(`/api/v1/mailboxes/${starttls}`, { security: "none", password: "typed-again-1" });
    expect(clear.statusCode).toBe(200);
    expect(clear.json()).toMatchObject({ security: "none", passwordSet: true });
    expect(await openPassword(starttls)).toBe("typed-again-1");
    // and back: a destination changes both ways, like a host
    expect((await api.patch(`/api/v1/mailboxes/${starttls}`, { security: "tls" })).json().error).toMatchObject({ code: "password_required" });
  });

  it("requires the client secret again when security is switched to none: the tokens it buys would travel in clear text", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: undefined, auth: oauthClientCredentials, clientSecret: "s3cret-one" }));
    const res = await api.patch(`/api/v1/mailboxes/${id}`, { security: "none" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: "password_required",
      details: [{ path: "clientSecret", message: expect.stringMatching(/client secret again.*security/) }],
    });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().security).toBe("tls");
    const ok = await api.patch(`/api/v1/mailboxes/${id}`, { security: "none", clientSecret: "s3cret-two" });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ security: "none", clientSecretSet: true });
    expect(await openClientSecret(id)).toBe("s3cret-two");
  });

  it("binds each sealed secret to its mailbox and column: one copied elsewhere does not open", async () => {
    await start();
    const alpha = await createMailbox(api, inboundImap({ name: "alpha", password: "alpha-password-1" }));
    const beta = await createMailbox(api, inboundImap({ name: "beta", host: "imap.beta.test", password: "beta-password-1" }));
    await setSealed(beta, { password_sealed: (await row(alpha)).password_sealed });
    const copied = await api.post(`/api/v1/mailboxes/${beta}/test`);
    expect(copied.json()).toMatchObject({ ok: false, steps: [{ ok: false, message: expect.stringMatching(/mailbox beta cannot be read/) }] });
    // beta never connected, so alpha's password went nowhere
    expect(tested).toEqual([]);
    expect((await api.post(`/api/v1/mailboxes/${alpha}/test`)).json().ok).toBe(true);
    expect(await tested[0]!.credentials.get()).toEqual({ method: "password", password: "alpha-password-1" });

    // a client secret moved into the password column of its own mailbox does not open either
    const gamma = await createMailbox(api, inboundImap({ name: "gamma", password: undefined, auth: oauthClientCredentials, clientSecret: "gamma-secret-1" }));
    expect((await api.patch(`/api/v1/mailboxes/${gamma}`, { auth: { method: "password" }, password: "gamma-password-1" })).statusCode).toBe(200);
    await setSealed(gamma, { password_sealed: (await row(gamma)).client_secret_sealed });
    const moved = await api.post(`/api/v1/mailboxes/${gamma}/test`);
    expect(moved.json()).toMatchObject({ ok: false, steps: [{ ok: false, message: expect.stringMatching(/mailbox gamma cannot be read/) }] });
    expect(tested).toHaveLength(1);
  });

  it("re-seals v1 secrets bound to their mailbox on start; before that, and copied after, a v1 secret opens nowhere", async () => {
    await start();
    const imap = await createMailbox(api, inboundImap());
    const cc = await createMailbox(api, inboundImap({ name: "cc", password: undefined, auth: oauthClientCredentials, clientSecret: "s3cret-new" }));
    const lost = await createMailbox(api, inboundImap({ name: "lost" }));
    const legacyPassword = sealV1(secretKey, "legacy-password-1");
    await setSealed(imap, { password_sealed: legacyPassword });
    await setSealed(cc, { client_secret_sealed: sealV1(secretKey, "legacy-secret-1") });
    // sealed with a key this server does not have: left as it is, the others are re-sealed all the same
    const unreadable = sealV1(randomBytes(32), "other-key-password");
    await setSealed(lost, { password_sealed: unreadable });

    const before = await api.post(`/api/v1/mailboxes/${imap}/test`);
    expect(before.json()).toMatchObject({ ok: false, steps: [{ message: expect.stringMatching(/cannot be read/) }] });
    expect(tested).toEqual([]);

    await t.app.start();
    expect((await row(imap)).password_sealed).toMatch(/^v2:/);
    expect(await openPassword(imap)).toBe("legacy-password-1");
    expect((await row(cc)).client_secret_sealed).toMatch(/^v2:/);
    expect(await openClientSecret(cc)).toBe("legacy-secret-1");
    expect((await row(lost)).password_sealed).toBe(unreadable);
    expect(t.logText()).toMatch(/"resealed":2,.*re-sealed/);
    expect(t.logText()).toMatch(new RegExp(`"mailboxId":"${lost}".*cannot be read`));

    expect((await api.post(`/api/v1/mailboxes/${imap}/test`)).json().ok).toBe(true);
    expect(await tested[0]!.credentials.get()).toEqual({ method: "password", password: "legacy-password-1" });
    expect((await api.post(`/api/v1/mailboxes/${lost}/test`)).json().steps[0].message).toMatch(/mailbox lost cannot be read/);

    // the old v1 copy (from a backup, say) put back after the re-seal: open() refuses v1
    await setSealed(imap, { password_sealed: legacyPassword });
    expect((await api.post(`/api/v1/mailboxes/${imap}/test`)).json()).toMatchObject({ ok: false, steps: [{ message: expect.stringMatching(/cannot be read/) }] });
    expect(tested).toHaveLength(1);
  });
});
