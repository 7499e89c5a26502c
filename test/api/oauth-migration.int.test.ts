import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, auditActions, type AdminApi } from "../support/admin-api.js";
import { testDialects } from "../support/dialects.js";
import type { Dovecot } from "../support/dovecot.js";
import { eventually, testMessage, uniqueUser } from "../support/mail-fixtures.js";
import { startMicrosoft, startOAuthDovecot, type Microsoft } from "../support/microsoft.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * The OAuth migration assistant end to end: password mailboxes on a Dovecot that checks both passwords and
 * XOAUTH2 tokens (against the Microsoft emulator), moved to OAuth 2.0 through the API with Mailroom's real
 * token service, and back.
 */
let ms: Microsoft;
let dovecot: Dovecot;

beforeAll(async () => {
  ms = await startMicrosoft();
  dovecot = await startOAuthDovecot(ms);
});

afterAll(async () => {
  await dovecot?.stop();
  await ms?.stop();
});

/**
 * Sessions of `user` that signed in with `method` and are still open, from Dovecot's log: the runner's (a
 * connection test logs out at once). OAUTHBEARER or XOAUTH2 for a token, PLAIN or LOGIN for a password.
 */
function openSessions(user: string, method: "token" | "password"): number {
  const lines = dovecot.logText().split("\n");
  const pattern = method === "token" ? /method=(XOAUTH2|OAUTHBEARER)/ : /method=(PLAIN|LOGIN)/;
  const sessions = lines
    .filter((line) => line.includes(`Login: user=<${user}>`) && pattern.test(line))
    .map((line) => /session=<([^>]+)>/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  return sessions.filter((id) => !lines.some((line) => line.includes(`<${id}>:`) && /Disconnected|Connection closed/.test(line))).length;
}

describe.each(testDialects())("the OAuth migration assistant (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  let queueId: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(dialect, {
      runnersEnabled: true,
      parseWorkers: 1,
      microsoft: { trustedCaPem: ms.emulator.caPem, tokenTimeoutMs: 10_000, publicUrl: null, catchUpSeconds: 300 },
    });
    await t.app.start();
    api = adminApi(t, await t.tokenFor("admin"));
    queueId = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
  });

  afterAll(async () => {
    await t?.close();
  });

  const app = (overrides: Record<string, unknown> = {}) => ({
    method: "oauth2",
    grant: "client_credentials",
    clientId: ms.clientId,
    directoryId: ms.tenantId,
    tenantAuthority: ms.authority,
    ...overrides,
  });

  async function passwordMailbox(prefix: string, extra: Record<string, unknown> = {}): Promise<{ id: string; user: string; password: string }> {
    const user = uniqueUser(prefix);
    const password = `Imap-${user.slice(0, 12)}-pw`;
    secrets.push(password);
    dovecot.addUser(user, password);
    const res = await api.post("/api/v1/mailboxes", {
      clientType: "inbound",
      name: user.split("@")[0]!.replace(/[^A-Za-z0-9@_.]/g, "_").slice(0, 40),
      type: "IMAP",
      mailbox: user,
      host: dovecot.host,
      port: dovecot.imapPort,
      security: "none",
      password,
      ...extra,
    });
    expect(res.statusCode, res.body).toBe(201);
    return { id: res.json().id, user, password };
  }

  let apps = 0;
  async function enable(mailboxIds: string[]): Promise<void> {
    const res = await api.post("/api/v1/applications", { name: `migration-${++apps}`, enabled: true, queueId, mailboxIds });
    expect(res.statusCode, res.body).toBe(201);
  }

  const subjects = async (mailboxId: string) =>
    ((await api.get(`/api/v1/interactions?mailboxId=${mailboxId}&limit=50`)).json().items as { subject: string }[]).map((i) => i.subject).sort();
  const mailbox = async (id: string) => (await api.get(`/api/v1/mailboxes/${id}`)).json();
  const row = (id: string) => t.store.db.kysely.selectFrom("mailboxes").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const sourceKeys = (id: string) =>
    t.store.db.kysely.selectFrom("source_keys").select(["maildrop", "source_key", "message_id"]).where("mailbox_id", "=", id).orderBy("source_key").execute();
  const allSeen = async (user: string) => [...(await dovecot.flags(user)).values()].every((f) => f.includes("\\Seen"));

  /** Mail appended now reaches the mailbox as one interaction, and is \Seen on the server. */
  async function mailFlows(id: string, user: string, subject: string): Promise<void> {
    await dovecot.append(user, testMessage(subject));
    await eventually(async () => (await subjects(id)).includes(subject), 20_000);
    await eventually(() => allSeen(user), 10_000);
  }

  let prod: { id: string; user: string; password: string };
  let testBox: { id: string; user: string; password: string };

  it("a password IMAP mailbox takes its mail", async () => {
    prod = await passwordMailbox("prod");
    await dovecot.append(prod.user, testMessage("before the move"));
    await enable([prod.id]);
    await eventually(async () => (await subjects(prod.id)).length === 1, 20_000);
    await eventually(() => allSeen(prod.user), 10_000);
    await eventually(async () => openSessions(prod.user, "password") === 1, 10_000);
    expect((await mailbox(prod.id)).oauthMigration).toBeUndefined();
  });

  it("a dry run with a wrong client secret fails at acquire_token in Entra's words, and changes nothing", async () => {
    const before = await row(prod.id);
    const res = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/verify`, { auth: app(), clientSecret: "not-the-client-secret" });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json();
    expect(result.ok).toBe(false);
    expect(result.verificationId).toEqual(expect.any(String));
    expect(result.steps).toEqual([expect.objectContaining({ step: "acquire_token", ok: false })]);
    expect(result.steps[0].message).toMatch(/AADSTS7000215/);
    expect(result.steps[0].message).toMatch(/client secret/i);
    expect(res.body).not.toContain("not-the-client-secret");

    expect(await row(prod.id)).toEqual(before);
    expect((await mailbox(prod.id)).auth).toEqual({ method: "password" });
    const listed = (await api.get(`/api/v1/mailboxes/${prod.id}/oauth/verifications`)).json().items;
    expect(listed).toEqual([
      expect.objectContaining({ id: result.verificationId, ok: false, grant: "client_credentials", clientId: ms.clientId, testMailbox: false }),
    ]);
  });

  it("refuses to migrate before a test mailbox passed with the Azure app; a pass of the mailbox itself does not count", async () => {
    const verified = (await api.post(`/api/v1/mailboxes/${prod.id}/oauth/verify`, { auth: app(), clientSecret: ms.clientSecret })).json();
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
    expect(verified.steps.map((s: { step: string }) => s.step)).toEqual(["acquire_token", "connect", "authenticate", "open_folder"]);
    expect(verified.steps[0].message).toMatch(/application permissions: .*IMAP\.AccessAsApp/);

    const res = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/migrate`, { auth: app(), clientSecret: ms.clientSecret });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error).toMatchObject({ code: "test_mailbox_required", message: expect.stringMatching(/^Verify a test mailbox with this Azure app first/) });
    expect((await mailbox(prod.id)).auth).toEqual({ method: "password" });
  });

  it("once a test mailbox passed, moves the production mailbox to OAuth 2.0: the stored mail is not imported again, new mail comes once", async () => {
    testBox = await passwordMailbox("test", { testMailbox: true });
    const verified = (await api.post(`/api/v1/mailboxes/${testBox.id}/oauth/verify`, { auth: app(), clientSecret: ms.clientSecret })).json();
    expect(verified.ok, JSON.stringify(verified)).toBe(true);

    // the pass is for this Azure app only
    const otherApp = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/migrate`, { auth: app({ directoryId: "00000000-0000-0000-0000-000000000000" }), clientSecret: ms.clientSecret });
    expect(otherApp.statusCode, otherApp.body).toBe(409);

    const keysBefore = await sourceKeys(prod.id);
    expect(keysBefore).toHaveLength(1);
    const res = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/migrate`, { auth: app(), clientSecret: ms.clientSecret });
    expect(res.statusCode, res.body).toBe(200);
    const moved = res.json();
    expect(moved.ok).toBe(true);
    expect(moved.mailbox.auth).toMatchObject({ method: "oauth2", grant: "client_credentials", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority });
    expect(moved.mailbox).toMatchObject({ passwordSet: true, clientSecretSet: true, oauthMigration: { migratedAt: expect.any(String), canRevertWithoutPassword: true } });

    // the runner restarted with a token
    await eventually(async () => openSessions(prod.user, "token") === 1 && openSessions(prod.user, "password") === 0, 20_000);
    await mailFlows(prod.id, prod.user, "after the move");
    expect(await subjects(prod.id)).toEqual(["after the move", "before the move"]);
    const interactions = await t.store.db.kysely.selectFrom("interactions").select("id").where("mailbox_id", "=", prod.id).execute();
    expect(interactions).toHaveLength(2);
    // the same maildrop: the key stored before the move is the one the runner knows after it
    const keysAfter = await sourceKeys(prod.id);
    expect(keysAfter).toHaveLength(2);
    expect(new Set(keysAfter.map((k) => k.maildrop))).toEqual(new Set([keysBefore[0]!.maildrop]));
    expect(keysAfter).toContainEqual(keysBefore[0]);
    await eventually(async () => (await mailbox(prod.id)).status.state === "ok", 10_000);
  });

  it("reverts to the kept password without one being typed, and mail still flows", async () => {
    const res = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/revert`, {});
    expect(res.statusCode, res.body).toBe(200);
    const back = res.json();
    expect(back.auth).toEqual({ method: "password" });
    expect(back).toMatchObject({ passwordSet: true, clientSecretSet: false });
    expect(back.oauthMigration).toBeUndefined();

    await eventually(async () => openSessions(prod.user, "password") === 1 && openSessions(prod.user, "token") === 0, 20_000);
    await mailFlows(prod.id, prod.user, "after the revert");
    expect(await subjects(prod.id)).toEqual(["after the move", "after the revert", "before the move"]);
    await eventually(async () => (await mailbox(prod.id)).status.state === "ok", 10_000);

    // nothing left to revert
    const again = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/revert`, {});
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json().error.code).toBe("not_migrated");
  });

  it("after the host changed, a revert needs the password typed again", async () => {
    const moved = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/migrate`, { auth: app(), clientSecret: ms.clientSecret });
    expect(moved.statusCode, moved.body).toBe(200);
    // another name for the same server; the client secret goes with the change (see the PATCH rules)
    const patched = await api.patch(`/api/v1/mailboxes/${prod.id}`, { host: "localhost", clientSecret: ms.clientSecret });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().oauthMigration).toMatchObject({ canRevertWithoutPassword: false });

    const refused = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/revert`, {});
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json().error).toMatchObject({ code: "password_required", details: [{ path: "password", message: expect.stringMatching(/host/) }] });
    expect((await mailbox(prod.id)).auth.method).toBe("oauth2");

    const res = await api.post(`/api/v1/mailboxes/${prod.id}/oauth/revert`, { password: prod.password });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ auth: { method: "password" }, host: "localhost" });
    await mailFlows(prod.id, prod.user, "after the second revert");
  });

  it("never sends a stored password or client secret to OAuth settings typed in a dry run", async () => {
    // a mailbox on the password grant: its stored password is what Entra ID signs it in with
    const box = await passwordMailbox("ropc");
    await ms.addUser(box.user, box.password);
    const grant = app({ grant: "password" });
    // a password mailbox has no OAuth settings yet: its stored password goes to none
    const typedNone = await api.post(`/api/v1/mailboxes/${box.id}/oauth/verify`, { auth: grant });
    expect(typedNone.statusCode, typedNone.body).toBe(400);
    expect(typedNone.json().error).toMatchObject({ code: "password_required", details: [{ path: "password", message: expect.stringMatching(/password/) }] });

    const moved = await api.post(`/api/v1/mailboxes/${box.id}/oauth/migrate`, { auth: grant, password: box.password });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json().steps[0].message).toMatch(/delegated permissions: IMAP\.AccessAsUser\.All/);

    // with the mailbox's own OAuth settings the stored password is used
    const same = (await api.post(`/api/v1/mailboxes/${box.id}/oauth/verify`, { auth: grant })).json();
    expect(same.ok, JSON.stringify(same)).toBe(true);
    // with an authority (or app) someone just typed it is not
    for (const typed of [{ tenantAuthority: "https://login.attacker.test/" }, { clientId: "11111111-2222-3333-4444-555555555555" }]) {
      const res = await api.post(`/api/v1/mailboxes/${box.id}/oauth/verify`, { auth: app({ grant: "password", ...typed }) });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error).toMatchObject({ code: "password_required", details: [{ path: "password" }] });
    }

    // the same for the stored client secret of a client-credentials mailbox
    const migrated = await api.post(`/api/v1/mailboxes/${testBox.id}/oauth/migrate`, { auth: app(), clientSecret: ms.clientSecret });
    expect(migrated.statusCode, migrated.body).toBe(200);
    const withStored = (await api.post(`/api/v1/mailboxes/${testBox.id}/oauth/verify`, { auth: app() })).json();
    expect(withStored.ok, JSON.stringify(withStored)).toBe(true);
    const secretElsewhere = await api.post(`/api/v1/mailboxes/${testBox.id}/oauth/verify`, { auth: app({ tenantAuthority: "https://login.attacker.test/" }) });
    expect(secretElsewhere.statusCode, secretElsewhere.body).toBe(400);
    expect(secretElsewhere.json().error).toMatchObject({ code: "password_required", details: [{ path: "clientSecret" }] });
  });

  it("lets only admins verify, migrate and revert; supervisors may read the verifications", async () => {
    const agent = await t.tokenFor("agent");
    const supervisor = await t.tokenFor("supervisor");
    const body = { auth: app(), clientSecret: ms.clientSecret };
    for (const [route, payload] of [["verify", body], ["migrate", body], ["revert", {}]] as const) {
      for (const token of [agent, supervisor]) {
        const res = await t.request({ method: "POST", url: `/api/v1/mailboxes/${prod.id}/oauth/${route}`, token, payload });
        expect(res.statusCode, `${route}: ${res.body}`).toBe(403);
      }
    }
    expect((await t.request({ method: "GET", url: `/api/v1/mailboxes/${prod.id}/oauth/verifications`, token: agent })).statusCode).toBe(403);
    const listed = await t.request({ method: "GET", url: `/api/v1/mailboxes/${prod.id}/oauth/verifications`, token: supervisor });
    expect(listed.statusCode, listed.body).toBe(200);
    const items = listed.json().items as { verifiedAt: string; ok: boolean }[];
    expect(items.length).toBeGreaterThan(3);
    expect(items.map((i) => i.verifiedAt)).toEqual(items.map((i) => i.verifiedAt).sort().reverse());
    expect((await mailbox(prod.id)).auth).toEqual({ method: "password" });
  });

  it("audits every verification, migration and revert, and shows or logs no secret", async () => {
    const entries = await auditActions(api);
    const of = (action: string) => entries.filter((e) => e.action === action && e.target.id === prod.id);
    expect(of("mailbox.oauth.verify").length).toBeGreaterThanOrEqual(3);
    expect(of("mailbox.oauth.migrate")).toHaveLength(2);
    expect(of("mailbox.oauth.revert")).toHaveLength(2);
    expect(of("mailbox.oauth.migrate")[0]!.changes).toMatchObject({ clientSecret: "[secret]", auth: { clientId: ms.clientId } });
    expect(of("mailbox.oauth.verify").some((e) => e.changes.ok === false && e.changes.failedStep === "acquire_token")).toBe(true);

    for (const secret of [...secrets, ms.clientSecret, "not-the-client-secret"]) {
      for (const res of api.responses) expect(res.body, `${res.raw.req.method} ${res.raw.req.url}`).not.toContain(secret);
      expect(t.logText()).not.toContain(secret);
    }
  });
});
