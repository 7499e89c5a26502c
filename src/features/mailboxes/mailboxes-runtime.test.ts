import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { adminApi, createMailbox, createQueue, inboundImap, inboundPop3, outboundSmtp, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";
import { freePort } from "../../../test/support/net.js";
import type { MailProtocol, MailSourceSettings, MailSourceTester, TestStep } from "../../connectors/mail-source.js";
import { SecretBox } from "../../crypto/secret-box.js";

/** A deterministic stand-in for the connectors' connection test: answers what it is told, remembers what it got. */
function standInTester(answer: (protocol: MailProtocol | "SMTP", settings: MailSourceSettings) => TestStep[]) {
  const calls: { protocol: MailProtocol | "SMTP"; settings: MailSourceSettings }[] = [];
  const tester: MailSourceTester = async (protocol, settings) => {
    calls.push({ protocol, settings });
    return answer(protocol, settings);
  };
  return { tester, calls };
}

describe.each(testDialects())("what the mailbox runners use (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  afterEach(async () => t?.close());

  async function start(tester?: MailSourceTester) {
    t = await createTestApp(dialect, {}, tester ? { mailSourceTester: tester } : {});
    api = adminApi(t, await t.tokenFor("admin"));
  }

  it("tests a disabled IMAP or POP3 mailbox through the tester, with the password opened", async () => {
    const { tester, calls } = standInTester((protocol, s) =>
      protocol === "IMAP"
        ? [
            { step: "connect", ok: true, ms: 3 },
            { step: "authenticate", ok: true, ms: 4 },
            { step: "open_folder", ok: true, ms: 1 },
          ]
        : [
            { step: "connect", ok: true, ms: 2 },
            { step: "authenticate", ok: false, ms: 5, message: `The server refused ${s.login}.` },
          ],
    );
    await start(tester);
    const imap = await createMailbox(api, inboundImap({ password: "imap-secret-1", options: { folder: "Support" } }));
    const pop3 = await createMailbox(api, inboundPop3({ password: "pop-secret-1", security: "none", port: 110 }));

    const ok = await api.post(`/api/v1/mailboxes/${imap}/test`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      ok: true,
      steps: [
        { step: "connect", ok: true, ms: 3 },
        { step: "authenticate", ok: true, ms: 4 },
        { step: "open_folder", ok: true, ms: 1 },
      ],
    });
    const refused = await api.post(`/api/v1/mailboxes/${pop3}/test`);
    expect(refused.json()).toMatchObject({ ok: false, steps: [{ ok: true }, { step: "authenticate", ok: false, message: "The server refused esj-22-30." }] });

    expect(calls.map((c) => c.protocol)).toEqual(["IMAP", "POP3"]);
    const { credentials: imapCredentials, ...imapSettings } = calls[0]!.settings;
    expect(await imapCredentials.get()).toEqual({ method: "password", password: "imap-secret-1" });
    expect(imapSettings).toEqual({
      mailboxId: imap,
      host: "imap.acme.test",
      port: 993,
      security: "tls",
      login: "support@acme.test",
      folder: "Support",
      acknowledge: { mode: "seen" },
      initialImport: "all",
      connectTimeoutMs: 15_000,
      allowInvalidCertificates: false,
    });
    expect(calls[1]!.settings).toMatchObject({ security: "none", port: 110, acknowledge: { mode: "delete" } });
    expect(await calls[1]!.settings.credentials.get()).toEqual({ method: "password", password: "pop-secret-1" });
    // testing changes nothing: still disabled, nothing audited
    expect((await api.get(`/api/v1/mailboxes/${imap}`)).json()).toMatchObject({ enabled: false, status: { state: "disabled" } });
  });

  it("stops an OAuth mailbox's test at the token step when Entra ID cannot be reached, and tests EWS and the outbound SMTP mailbox with their own settings", async () => {
    const { tester, calls } = standInTester(() => [{ step: "connect", ok: true, ms: 1 }]);
    await start(tester);
    const smtp = await createMailbox(api, outboundSmtp());
    const ews = await createMailbox(api, inboundImap({ name: "ews", type: "EWS", host: "exchange.acme.test", port: 443, security: "tls" }));
    // nothing listens there: the token request fails at once, offline
    const closed = await freePort();
    const oauth = await createMailbox(
      api,
      inboundImap({ name: "oauth", auth: { method: "oauth2", grant: "password", clientId: "c-1", directoryId: "d-1", tenantAuthority: `https://127.0.0.1:${closed}/` } }),
    );
    const res = await api.post(`/api/v1/mailboxes/${oauth}/test`);
    expect(res.statusCode).toBe(200);
    expect(res.json().ok).toBe(false);
    expect(res.json().steps).toHaveLength(1);
    expect(res.json().steps[0]).toMatchObject({ step: "acquire_token", ok: false, message: expect.stringMatching(/The sign-in service could not be reached.*127\.0\.0\.1/) });
    expect(calls).toEqual([]);
    // EWS and the outbound SMTP mailbox are tested (connect and sign in, nothing sent) with their own settings
    for (const id of [ews, smtp]) expect((await api.post(`/api/v1/mailboxes/${id}/test`)).json()).toMatchObject({ ok: true });
    expect(calls.map((c) => [c.protocol, c.settings.host, c.settings.login])).toEqual([
      ["EWS", "exchange.acme.test", expect.any(String)],
      ["SMTP", "smtp.acme.test", "sender@acme.test"],
    ]);
  });

  it("tests with the real connectors by default: a server that is not there fails at the connect step, in words", async () => {
    await start();
    const id = await createMailbox(api, inboundImap({ host: "127.0.0.1", port: await freePort(), security: "none" }));
    const res = await api.post(`/api/v1/mailboxes/${id}/test`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ok).toBe(false);
    expect(body.steps).toHaveLength(1);
    expect(body.steps[0]).toMatchObject({ step: "connect", ok: false });
    expect(body.steps[0].message).toMatch(/refused/i);
  });

  it("turns a tester that throws into a failed step", async () => {
    await start(() => Promise.reject(new Error("socket hang up")));
    const id = await createMailbox(api, inboundImap());
    const res = await api.post(`/api/v1/mailboxes/${id}/test`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: false, steps: [{ step: "connect", ok: false, message: "socket hang up" }] });
  });

  it("lists the inbound mailboxes of enabled applications with their settings", async () => {
    await start();
    const mailboxes = t.app.services.mailboxes;
    const queue = await createQueue(api);
    const imap = await createMailbox(
      api,
      inboundImap({ maxSizeMb: 12, options: { acknowledge: "move", processedFolder: "Done", initialImport: "unseen" } }),
    );
    const pop3 = await createMailbox(api, inboundPop3({ options: { acknowledge: "keep" } }));
    await createMailbox(api, outboundSmtp());
    expect(await mailboxes.listEnabledInbound()).toEqual([]);

    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [imap, pop3], enabled: true })).json();
    const enabled = await mailboxes.listEnabledInbound();
    expect(enabled.map((m) => m.name)).toEqual(["pop.client", "support"]);
    const support = enabled.find((m) => m.id === imap)!;
    expect(support).toMatchObject({ type: "IMAP", maxSizeMb: 12, queueId: queue, applicationId: app.id, auth: { method: "password" } });
    expect(support.updatedAt).toBe((await api.get(`/api/v1/mailboxes/${imap}`)).json().updatedAt);
    expect(await support.settings.credentials.get()).toEqual({ method: "password", password: "imap-password-1" });
    expect(support.settings).toMatchObject({
      acknowledge: { mode: "move", folder: "Done" },
      initialImport: "unseen",
      connectTimeoutMs: 15_000,
      allowInvalidCertificates: false,
    });
    expect(enabled.find((m) => m.id === pop3)!.settings.acknowledge).toEqual({ mode: "keep" });

    await api.patch(`/api/v1/applications/${app.id}`, { enabled: false });
    expect(await mailboxes.listEnabledInbound()).toEqual([]);
  });

  it("reports a mailbox whose password cannot be opened, and still lists the others", async () => {
    await start(async () => [{ step: "connect", ok: true, ms: 1 }]);
    const mailboxes = t.app.services.mailboxes;
    const queue = await createQueue(api);
    const broken = await createMailbox(api, inboundImap());
    const fine = await createMailbox(api, inboundPop3());
    await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [broken, fine], enabled: true });
    // as if the secret key had been replaced: the sealed password no longer opens
    const sealedElsewhere = new SecretBox(randomBytes(32)).seal("imap-password-1", `mailbox:${broken}:password`);
    await t.store.db.kysely.updateTable("mailboxes").set({ password_sealed: sealedElsewhere }).where("id", "=", broken).execute();

    expect((await mailboxes.listEnabledInbound()).map((m) => m.id)).toEqual([fine]);
    expect((await api.get(`/api/v1/mailboxes/${broken}`)).json().status).toMatchObject({
      state: "error",
      code: "secret_unreadable",
      message: expect.stringMatching(/cannot be read with this server's secret key/),
    });
    const tested = await api.post(`/api/v1/mailboxes/${broken}/test`);
    expect(tested.json()).toMatchObject({ ok: false, steps: [{ ok: false, message: expect.stringMatching(/type the password again/) }] });
  });

  it("tells listeners after each commit that changes enabled mailboxes or settings", async () => {
    await start();
    const mailboxes = t.app.services.mailboxes;
    const reads: Promise<string[]>[] = [];
    let calls = 0;
    const unsubscribe = mailboxes.onChange(() => {
      calls++;
      // called after the commit: what the listener reads is already the new state
      reads.push(mailboxes.listEnabledInbound().then((list) => list.map((m) => m.name)));
    });
    const queue = await createQueue(api);
    expect(calls).toBe(0);
    const id = await createMailbox(api, inboundImap());
    expect(calls).toBe(1);
    await api.post("/api/v1/mailboxes", inboundImap({ name: "bad name" }));
    expect(calls).toBe(1);
    await api.patch(`/api/v1/mailboxes/${id}`, { maxSizeMb: 7 });
    expect(calls).toBe(2);
    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [id], enabled: true })).json();
    expect(calls).toBe(3);
    expect(await reads[2]).toEqual(["support"]);
    await api.patch(`/api/v1/applications/${app.id}`, { enabled: false });
    expect(calls).toBe(4);
    expect(await reads[3]).toEqual([]);
    await api.del(`/api/v1/applications/${app.id}`);
    expect(calls).toBe(5);
    await api.del(`/api/v1/mailboxes/${id}`);
    expect(calls).toBe(6);

    unsubscribe();
    await createMailbox(api, inboundImap());
    expect(calls).toBe(6);
  });

  it("keeps the status a runner reports, and ignores a report for a deleted mailbox", async () => {
    await start();
    const mailboxes = t.app.services.mailboxes;
    const id = await createMailbox(api, inboundImap());
    const status = () => t.store.db.kysely.selectFrom("mailbox_status").selectAll().where("mailbox_id", "=", id).execute();
    await mailboxes.setStatus(id, { state: "connecting" });
    await mailboxes.setStatus(id, { state: "error", code: "tls_error", message: "The certificate expired." });
    await mailboxes.setStatus(id, { state: "ok", lastSyncAt: "2025-02-03T04:05:06.000Z" });
    expect(await status()).toMatchObject([{ state: "ok", code: null, message: null, last_sync_at: "2025-02-03T04:05:06.000Z" }]);
    await api.del(`/api/v1/mailboxes/${id}`);
    await expect(mailboxes.setStatus(id, { state: "disabled" })).resolves.toBeUndefined();
    expect(await status()).toEqual([]);
  });

  it("knows Mailroom's own addresses, in lower case", async () => {
    await start();
    const folder = (await api.post("/api/v1/business-attributes", { name: "Agents" })).json().id;
    await api.post(`/api/v1/business-attributes/${folder}/values`, { name: "Sales@Acme.test", displayName: "Sales" });
    await createMailbox(api, outboundSmtp({ fromAddress: "Support@Acme.test", fromAddressFolderId: folder }));
    await createMailbox(api, inboundImap({ mailbox: "Help@Acme.test" }));
    await createMailbox(api, inboundPop3({ mailbox: "esj-22-30" }));
    const own = await t.app.services.mailboxes.ownAddresses();
    expect([...own].sort()).toEqual(["help@acme.test", "sales@acme.test", "support@acme.test"]);
  });
});
