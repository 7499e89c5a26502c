import { afterEach, describe, expect, it } from "vitest";
import { adminApi, auditActions, createMailbox, createQueue, inboundImap, inboundPop3, outboundSmtp, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";

describe.each(testDialects())("applications (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  let queue: string;
  afterEach(async () => t?.close());

  async function start() {
    t = await createTestApp(dialect);
    api = adminApi(t, await t.tokenFor("admin"));
    queue = await createQueue(api);
  }

  const enabled = async (id: string): Promise<boolean> => (await api.get(`/api/v1/mailboxes/${id}`)).json().enabled;
  const missing = "0190aaaa-0000-7000-8000-000000000000";

  it("creates an application disabled unless asked, and enables its mailboxes only while it is enabled", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const pop = await createMailbox(api, inboundPop3());
    const outbound = await createMailbox(api, outboundSmtp());

    const created = await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [support] });
    expect(created.statusCode).toBe(201);
    const app = created.json();
    expect(app).toMatchObject({ name: "Mail", enabled: false, mailboxIds: [support], queueId: queue });
    expect(app.autoAcknowledge).toBeUndefined();
    expect((await api.get(`/api/v1/applications/${app.id}`)).json()).toEqual(app);
    expect([await enabled(support), await enabled(pop), await enabled(outbound)]).toEqual([false, false, false]);

    const on = await api.patch(`/api/v1/applications/${app.id}`, { enabled: true });
    expect(on.json().enabled).toBe(true);
    // the outbound mailbox is enabled while any application is
    expect([await enabled(support), await enabled(pop), await enabled(outbound)]).toEqual([true, false, true]);
    expect((await api.get(`/api/v1/mailboxes/${support}`)).json().status).toEqual({ state: "connecting", warnings: [] });

    await api.patch(`/api/v1/applications/${app.id}`, { enabled: false });
    expect([await enabled(support), await enabled(pop), await enabled(outbound)]).toEqual([false, false, false]);
  });

  it("keeps the outbound mailbox enabled while any application is enabled", async () => {
    await start();
    const outbound = await createMailbox(api, outboundSmtp());
    const a = (await api.post("/api/v1/applications", { name: "A", queueId: queue, enabled: true })).json();
    const b = (await api.post("/api/v1/applications", { name: "B", queueId: queue, enabled: true })).json();
    expect(await enabled(outbound)).toBe(true);
    await api.patch(`/api/v1/applications/${a.id}`, { enabled: false });
    expect(await enabled(outbound)).toBe(true);
    expect((await api.del(`/api/v1/applications/${b.id}`)).statusCode).toBe(204);
    expect(await enabled(outbound)).toBe(false);
  });

  it("disables and frees the mailboxes of a deleted application", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [support], enabled: true })).json();
    expect(await enabled(support)).toBe(true);
    expect((await api.del(`/api/v1/applications/${app.id}`)).statusCode).toBe(204);
    expect((await api.get(`/api/v1/applications/${app.id}`)).statusCode).toBe(404);
    expect(await enabled(support)).toBe(false);
    const next = await api.post("/api/v1/applications", { name: "Mail 2", queueId: queue, mailboxIds: [support] });
    expect(next.statusCode).toBe(201);
  });

  it("disables a mailbox taken off an enabled application's list", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const pop = await createMailbox(api, inboundPop3());
    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [support, pop], enabled: true })).json();
    expect([...app.mailboxIds].sort()).toEqual([support, pop].sort());
    const patched = await api.patch(`/api/v1/applications/${app.id}`, { mailboxIds: [pop] });
    expect(patched.json().mailboxIds).toEqual([pop]);
    expect([await enabled(support), await enabled(pop)]).toEqual([false, true]);
  });

  it("lets an inbound mailbox feed one application only", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const pop = await createMailbox(api, inboundPop3());
    await api.post("/api/v1/applications", { name: "Sales", queueId: queue, mailboxIds: [support] });
    const second = await api.post("/api/v1/applications", { name: "Service", queueId: queue, mailboxIds: [pop, support] });
    expect(second.statusCode).toBe(409);
    expect(second.json().error).toMatchObject({
      code: "mailbox_assigned",
      message: expect.stringContaining('"Sales"'),
      details: [{ path: "mailboxIds.1", message: 'is already listed by the application "Sales"' }],
    });
    const other = (await api.post("/api/v1/applications", { name: "Service", queueId: queue, mailboxIds: [pop] })).json();
    const patch = await api.patch(`/api/v1/applications/${other.id}`, { mailboxIds: [pop, support] });
    expect(patch.statusCode).toBe(409);
    expect(patch.json().error.code).toBe("mailbox_assigned");
    expect((await api.get(`/api/v1/applications/${other.id}`)).json().mailboxIds).toEqual([pop]);
    expect((await api.get("/api/v1/applications")).json().items.map((a: { name: string }) => a.name)).toEqual(["Sales", "Service"]);
  });

  it("refuses unknown queues, unknown or outbound mailboxes and bad fields, and changes nothing", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const outbound = await createMailbox(api, outboundSmtp());
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: "Mail", queueId: missing }, "queueId", /No queue has this id/],
      [{ name: "Mail" }, "queueId", /id of the queue/],
      [{ name: "Mail", queueId: queue, mailboxIds: [missing] }, "mailboxIds.0", /No mailbox has this id/],
      [{ name: "Mail", queueId: queue, mailboxIds: [support, outbound] }, "mailboxIds.1", /outbound mailbox/],
      [{ name: "Mail", queueId: queue, mailboxIds: [support, support] }, "mailboxIds.1", /listed twice/],
      [{ name: "Mail", queueId: queue, mailboxIds: support }, "mailboxIds", /list of mailbox ids/],
      [{ name: "", queueId: queue }, "name", /1 to 100 characters/],
      [{ name: "x".repeat(101), queueId: queue }, "name", /1 to 100 characters/],
      [{ name: "Mail", queueId: queue, enabled: "yes" }, "enabled", /true or false/],
      [{ name: "Mail", queueId: queue, autoAcknowledge: { enabled: true, subject: "", text: "Thanks" } }, "autoAcknowledge.subject", /subject/],
      [{ name: "Mail", queueId: queue, autoAcknowledge: { enabled: true, subject: "Re", text: " " } }, "autoAcknowledge.text", /text/],
      [{ name: "Mail", queueId: queue, priority: 1 }, "body", /Unknown field\(s\): priority/],
    ];
    for (const [payload, path, message] of cases) {
      const res = await api.post("/api/v1/applications", payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const detail = res.json().error.details.find((d: { path: string }) => d.path === path);
      expect(detail?.message, `${path}: ${res.body}`).toMatch(message);
    }
    expect((await api.get("/api/v1/applications")).json().items).toEqual([]);
    expect((await auditActions(api)).filter((a) => a.action.startsWith("application."))).toEqual([]);

    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [support] })).json();
    const bad = await api.patch(`/api/v1/applications/${app.id}`, { queueId: missing, enabled: true });
    expect(bad.statusCode).toBe(400);
    expect((await api.get(`/api/v1/applications/${app.id}`)).json()).toEqual(app);
    expect(await enabled(support)).toBe(false);
    expect((await api.patch(`/api/v1/applications/${missing}`, { enabled: true })).statusCode).toBe(404);
    expect((await api.del(`/api/v1/applications/${missing}`)).statusCode).toBe(404);
    expect((await api.get(`/api/v1/applications/${missing}`)).statusCode).toBe(404);
  });

  it("keeps application names unique regardless of case", async () => {
    await start();
    await api.post("/api/v1/applications", { name: "Mail", queueId: queue });
    const dup = await api.post("/api/v1/applications", { name: "MAIL", queueId: queue });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: "name_taken", details: [{ path: "name" }] });
  });

  it("stores the automatic acknowledgement and removes it on null", async () => {
    await start();
    const auto = { enabled: true, subject: "We got your message", text: "We will answer within a day." };
    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, autoAcknowledge: auto })).json();
    expect(app.autoAcknowledge).toEqual(auto);
    const cleared = await api.patch(`/api/v1/applications/${app.id}`, { autoAcknowledge: null });
    expect(cleared.json().autoAcknowledge).toBeUndefined();
    const other = await createQueue(api, "Billing");
    const moved = await api.patch(`/api/v1/applications/${app.id}`, { queueId: other, name: "Billing mail" });
    expect(moved.json()).toMatchObject({ queueId: other, name: "Billing mail" });
  });

  it("audits applications and every mailbox they enable or disable", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const outbound = await createMailbox(api, outboundSmtp());
    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [support], enabled: true })).json();
    await api.patch(`/api/v1/applications/${app.id}`, { enabled: false });
    await api.del(`/api/v1/applications/${app.id}`);
    const audit = (await auditActions(api)).reverse();
    const lines = audit
      .filter((a) => a.action.startsWith("application.") || a.action === "mailbox.enable" || a.action === "mailbox.disable")
      .map((a) => `${a.action} ${a.target.id === support ? "support" : a.target.id === outbound ? "outbound" : "app"}`);
    expect(lines.slice(0, 3)).toEqual(["application.create app", expect.stringMatching(/^mailbox.enable/), expect.stringMatching(/^mailbox.enable/)]);
    expect(lines.slice(1, 3).sort()).toEqual(["mailbox.enable outbound", "mailbox.enable support"]);
    expect(lines.slice(3, 6).sort()).toEqual(["application.update app", "mailbox.disable outbound", "mailbox.disable support"]);
    expect(lines.slice(6)).toEqual(["application.delete app"]);
    const enable = audit.find((a) => a.action === "mailbox.enable" && a.target.id === support);
    expect(enable?.changes).toEqual({ cause: "application.create", application: { id: app.id, name: "Mail" } });
  });

  it("refuses to delete an enabled mailbox, and takes a deleted one off its disabled application", async () => {
    await start();
    const support = await createMailbox(api, inboundImap());
    const pop = await createMailbox(api, inboundPop3());
    const outbound = await createMailbox(api, outboundSmtp());
    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [support, pop], enabled: true })).json();
    for (const id of [support, outbound]) {
      const res = await api.del(`/api/v1/mailboxes/${id}`);
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe("mailbox_enabled");
      expect((await api.get(`/api/v1/mailboxes/${id}`)).statusCode).toBe(200);
    }
    await api.patch(`/api/v1/applications/${app.id}`, { enabled: false });
    expect((await api.del(`/api/v1/mailboxes/${support}`)).statusCode).toBe(204);
    expect((await api.del(`/api/v1/mailboxes/${outbound}`)).statusCode).toBe(204);
    expect((await api.get(`/api/v1/applications/${app.id}`)).json().mailboxIds).toEqual([pop]);
  });
});
