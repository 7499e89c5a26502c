import { afterEach, describe, expect, it } from "vitest";
import { adminApi, createMailbox, inboundImap, inboundPop3, outboundSmtp, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";
import { MailSourceError, type MailSourceSettings, type TestStep } from "../../connectors/mail-source.js";
import type { OAuthAccount, TokenService } from "../../oauth/token-service.js";
import { newId } from "../../shared/ids.js";

const app = {
  method: "oauth2",
  grant: "client_credentials",
  clientId: "11111111-2222-3333-4444-555555555555",
  directoryId: "66666666-7777-8888-9999-000000000000",
  tenantAuthority: "https://login.microsoftonline.com/",
};
const clientSecret = "right-client-secret";

/**
 * A stand-in for Entra ID that remembers every account it was asked a token for (so a test sees which
 * secret went to which authority), and a connection test that signs in with whatever credential it gets.
 */
function standIns() {
  const asked: OAuthAccount[] = [];
  const tested: { protocol: string; direction: string | undefined; settings: MailSourceSettings; credential: unknown }[] = [];
  const tokens = {
    acquire: async (account: OAuthAccount) => {
      asked.push(account);
      if (account.grant === "client_credentials" && account.clientSecret !== clientSecret) {
        throw new MailSourceError("invalid_client", "Entra ID refused the client secret of the Azure app: AADSTS7000215: Invalid client secret provided.");
      }
      return { accessToken: "token-1", expiresOn: null, claims: { aud: null, tid: null, appid: null, roles: ["IMAP.AccessAsApp"], scp: [], upn: null, expiresAt: null } };
    },
    diagnose: () => ({ audience: { expected: "x", actual: null, ok: true }, permissions: ["IMAP.AccessAsApp"], required: ["IMAP.AccessAsApp"], missing: [], expiresAt: null }),
    credentials: () => ({ get: async () => ({ method: "xoauth2" as const, accessToken: "token-1" }), refused: () => undefined }),
  };
  const hooks: { duringTest?: () => Promise<void> } = {};
  const tester = async (protocol: string, settings: MailSourceSettings, context?: { direction: string }): Promise<TestStep[]> => {
    await hooks.duringTest?.();
    tested.push({ protocol, direction: context?.direction, settings, credential: await settings.credentials.get() });
    return [
      { step: "connect", ok: true, ms: 1 },
      { step: "authenticate", ok: true, ms: 1 },
      { step: "open_folder", ok: true, ms: 1 },
    ];
  };
  // the stand-in has the three methods the mailboxes use; TokenService's private state it need not have
  return { asked, tested, hooks, tester, tokens: tokens as unknown as TokenService };
}

describe.each(testDialects())("the OAuth migration assistant's rules (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  let s: ReturnType<typeof standIns>;
  afterEach(async () => t?.close());

  async function start() {
    s = standIns();
    t = await createTestApp(dialect, {}, { mailSourceTester: s.tester, tokens: s.tokens });
    api = adminApi(t, await t.tokenFor("admin"));
  }

  const row = (id: string) => t.store.db.kysely.selectFrom("mailboxes").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const passWith = (mailboxId: string, hoursAgo: number, testMailbox = 1) =>
    t.store.db.kysely
      .insertInto("oauth_verifications")
      .values({
        id: newId(), mailbox_id: mailboxId, oauth_grant: "client_credentials", client_id: app.clientId, directory_id: app.directoryId,
        tenant_authority: app.tenantAuthority, ok: 1, steps: "[]", verified_at: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(), test_mailbox: testMailbox,
      })
      .execute();

  it("signs in with the typed secret in a dry run, stores nothing, and records the result", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: "imap-password-1" }));
    const before = await row(id);
    const res = await api.post(`/api/v1/mailboxes/${id}/oauth/verify`, { auth: app, clientSecret });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, steps: [{ step: "acquire_token", ok: true }, { step: "connect" }, { step: "authenticate" }, { step: "open_folder" }] });
    expect(s.asked).toEqual([expect.objectContaining({ clientSecret, tenantAuthority: app.tenantAuthority, username: "support@acme.test", password: null })]);
    expect(s.tested.at(-1)!.credential).toEqual({ method: "xoauth2", accessToken: "token-1", appOnly: true });
    expect(await row(id)).toEqual(before);
    const listed = (await api.get(`/api/v1/mailboxes/${id}/oauth/verifications`)).json().items;
    expect(listed).toEqual([{ id: res.json().verificationId, grant: "client_credentials", clientId: app.clientId, directoryId: app.directoryId, tenantAuthority: app.tenantAuthority, ok: true, steps: res.json().steps, verifiedAt: expect.any(String), testMailbox: false }]);
  });

  it("asks for the secret a dry run would otherwise take from the mailbox for settings it does not have", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: "imap-password-1" }));
    const res = await api.post(`/api/v1/mailboxes/${id}/oauth/verify`, { auth: { ...app, grant: "password" } });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: "password_required", details: [{ path: "password" }] });
    const noSecret = await api.post(`/api/v1/mailboxes/${id}/oauth/verify`, { auth: app });
    expect(noSecret.json().error).toMatchObject({ code: "password_required", details: [{ path: "clientSecret" }] });
    // only OAuth settings: a password-method auth is no migration
    expect((await api.post(`/api/v1/mailboxes/${id}/oauth/verify`, { auth: { method: "password" } })).statusCode).toBe(400);
    expect(s.asked).toEqual([]);
  });

  it("opens the way for migrating only with a test mailbox's pass of the same app within 24 hours", async () => {
    await start();
    const prod = await createMailbox(api, inboundImap({ password: "imap-password-1" }));
    const testBox = await createMailbox(api, inboundImap({ name: "test.box", mailbox: "test@acme.test", password: "imap-password-2", testMailbox: true }));
    const migrate = () => api.post(`/api/v1/mailboxes/${prod}/oauth/migrate`, { auth: app, clientSecret });

    await passWith(testBox, 25);
    await passWith(prod, 1, 0);
    expect((await migrate()).json().error.code).toBe("test_mailbox_required");
    expect(s.asked).toEqual([]);
    await passWith(testBox, 23);
    const res = await migrate();
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().mailbox).toMatchObject({ auth: { method: "oauth2", clientId: app.clientId }, passwordSet: true, clientSecretSet: true, oauthMigration: { canRevertWithoutPassword: true } });

    // a test mailbox needs no earlier pass: the migration's own dry run is one
    const other = await createMailbox(api, inboundImap({ name: "test.two", mailbox: "test2@acme.test", password: "imap-password-3", testMailbox: true }));
    await t.store.db.kysely.deleteFrom("oauth_verifications").execute();
    expect((await api.post(`/api/v1/mailboxes/${other}/oauth/migrate`, { auth: app, clientSecret })).statusCode).toBe(200);
    // and an OAuth mailbox is not migrated again
    expect((await api.post(`/api/v1/mailboxes/${other}/oauth/migrate`, { auth: app, clientSecret })).json().error.code).toBe("already_oauth");
  });

  it("switches nothing when the mailbox's own dry run fails: 422 with the steps", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: "imap-password-1", testMailbox: true }));
    const before = await row(id);
    const res = await api.post(`/api/v1/mailboxes/${id}/oauth/migrate`, { auth: app, clientSecret: "wrong-secret" });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error).toMatchObject({
      code: "verification_failed",
      message: expect.stringMatching(/failed at acquire_token: .*AADSTS7000215.*still signs in with its password/),
      details: [{ path: "acquire_token", message: expect.stringMatching(/^failed: /) }],
    });
    expect(await row(id)).toEqual(before);
    expect((await api.get(`/api/v1/mailboxes/${id}/oauth/verifications`)).json().items).toHaveLength(1);
  });

  it("does not switch a mailbox that was edited while its dry run ran: what was verified is what moves", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: "imap-password-1", testMailbox: true }));
    s.hooks.duringTest = async () => {
      await t.store.db.kysely.updateTable("mailboxes").set({ host: "elsewhere.acme.test", updated_at: new Date(Date.now() + 1000).toISOString() }).where("id", "=", id).execute();
    };
    const res = await api.post(`/api/v1/mailboxes/${id}/oauth/migrate`, { auth: app, clientSecret });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.code).toBe("conflict");
    expect(await row(id)).toMatchObject({ auth_method: "password", host: "elsewhere.acme.test", oauth_migrated_from: null });
  });

  it("keeps the password through the move and uses it for the way back only where it went before", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: "imap-password-1", testMailbox: true }));
    const sealed = (await row(id)).password_sealed;
    expect((await api.post(`/api/v1/mailboxes/${id}/oauth/migrate`, { auth: app, clientSecret })).statusCode).toBe(200);
    expect((await row(id)).password_sealed).toBe(sealed);

    // the port changes and changes back: the kept password fits again
    expect((await api.patch(`/api/v1/mailboxes/${id}`, { port: 994, clientSecret })).json().oauthMigration.canRevertWithoutPassword).toBe(false);
    expect((await api.post(`/api/v1/mailboxes/${id}/oauth/revert`, {})).json().error.code).toBe("password_required");
    expect((await api.patch(`/api/v1/mailboxes/${id}`, { port: 993, clientSecret })).json().oauthMigration.canRevertWithoutPassword).toBe(true);
    const back = await api.post(`/api/v1/mailboxes/${id}/oauth/revert`, {});
    expect(back.statusCode, back.body).toBe(200);
    expect(back.json()).toMatchObject({ auth: { method: "password" }, passwordSet: true, clientSecretSet: false });
    expect((await row(id)).password_sealed).toBe(sealed);
    expect((await api.post(`/api/v1/mailboxes/${id}/test`)).json().ok).toBe(true);
    expect(s.tested.at(-1)!.credential).toEqual({ method: "password", password: "imap-password-1" });
  });

  it("reverts an OAuth mailbox it did not move only to a typed password, and forgets the move when PATCH goes back to a password", async () => {
    await start();
    const oauth = await createMailbox(api, inboundImap({ password: undefined, auth: app, clientSecret }));
    expect((await api.get(`/api/v1/mailboxes/${oauth}`)).json().oauthMigration).toBeUndefined();
    expect((await api.post(`/api/v1/mailboxes/${oauth}/oauth/revert`, {})).json().error.code).toBe("not_migrated");
    const typed = await api.post(`/api/v1/mailboxes/${oauth}/oauth/revert`, { password: "imap-password-9" });
    expect(typed.statusCode, typed.body).toBe(200);
    expect(typed.json()).toMatchObject({ auth: { method: "password" }, passwordSet: true });

    const moved = await createMailbox(api, inboundImap({ name: "moved", mailbox: "moved@acme.test", password: "imap-password-1", testMailbox: true }));
    expect((await api.post(`/api/v1/mailboxes/${moved}/oauth/migrate`, { auth: app, clientSecret })).statusCode).toBe(200);
    const patched = await api.patch(`/api/v1/mailboxes/${moved}`, { auth: { method: "password" }, password: "imap-password-2" });
    expect(patched.json().oauthMigration).toBeUndefined();
    expect((await row(moved)).oauth_migrated_from).toBeNull();
  });

  it("moves POP3 and the outbound SMTP mailbox too, each tested with its own protocol and direction", async () => {
    await start();
    const pop3 = await createMailbox(api, inboundPop3({ password: "pop-password-1", testMailbox: true }));
    const smtp = await createMailbox(api, outboundSmtp({ password: "smtp-password-1" }));
    for (const id of [pop3, smtp]) {
      const res = await api.post(`/api/v1/mailboxes/${id}/oauth/migrate`, { auth: app, clientSecret });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().mailbox.auth.method).toBe("oauth2");
    }
    expect(s.tested.map((c) => [c.protocol, c.direction])).toEqual([
      ["POP3", "inbound"],
      ["SMTP", "outbound"],
    ]);
    expect(s.asked.map((a) => [a.protocol, a.direction])).toEqual([
      ["POP3", "inbound"],
      ["SMTP", "outbound"],
    ]);
  });

  it("lists the last 20 verifications, newest first", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ password: "imap-password-1" }));
    for (let i = 0; i < 22; i++) await passWith(id, 30 - i, 0);
    const items = (await api.get(`/api/v1/mailboxes/${id}/oauth/verifications`)).json().items as { verifiedAt: string }[];
    expect(items).toHaveLength(20);
    expect(items.map((v) => v.verifiedAt)).toEqual(items.map((v) => v.verifiedAt).sort().reverse());
    expect((await api.get(`/api/v1/mailboxes/${newId()}/oauth/verifications`)).statusCode).toBe(404);
  });
});
