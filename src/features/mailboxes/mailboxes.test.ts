import { afterEach, describe, expect, it } from "vitest";
import { adminApi, auditActions, createMailbox, graphSignIn, inboundImap, inboundPop3, outboundSmtp, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";

describe.each(testDialects())("mailboxes API (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  afterEach(async () => t?.close());

  async function start() {
    t = await createTestApp(dialect);
    api = adminApi(t, await t.tokenFor("admin"));
  }

  const names = async () => (await api.get("/api/v1/mailboxes")).json().items.map((m: { name: string }) => m.name).sort();

  it("creates an inbound mailbox disabled, with the defaults of the reference", async () => {
    await start();
    const res = await api.post("/api/v1/mailboxes", inboundImap());
    expect(res.statusCode).toBe(201);
    const m = res.json();
    expect(m).toMatchObject({
      name: "support",
      clientType: "inbound",
      type: "IMAP",
      mailbox: "support@acme.test",
      host: "imap.acme.test",
      port: 993,
      security: "tls",
      maxSizeMb: 5,
      fromAddress: null,
      fromAddressFolderId: null,
      options: { folder: "INBOX", acknowledge: "seen", initialImport: "all" },
      auth: { method: "password" },
      passwordSet: true,
      clientSecretSet: false,
      testMailbox: false,
      enabled: false,
      status: { state: "disabled", warnings: [] },
    });
    expect((await api.get(`/api/v1/mailboxes/${m.id}`)).json()).toEqual(m);
    const created = (await auditActions(api)).find((a) => a.action === "mailbox.create");
    expect(created).toMatchObject({ target: { id: m.id }, changes: { name: "support", password: "[secret]" } });
  });

  it("names the outbound mailbox smtp-client, whatever else is asked", async () => {
    await start();
    const other = await api.post("/api/v1/mailboxes", outboundSmtp({ name: "sender" }));
    expect(other.statusCode).toBe(400);
    expect(other.json().error.details).toEqual([{ path: "name", message: expect.stringContaining("always named smtp-client") }]);
    const omitted = await api.post("/api/v1/mailboxes", outboundSmtp());
    expect(omitted.statusCode).toBe(201);
    expect(omitted.json()).toMatchObject({ name: "smtp-client", clientType: "outbound", type: "SMTP", fromAddress: "support@acme.test" });
    expect(omitted.json().options).toBeUndefined();
    const id = omitted.json().id;
    expect((await api.patch(`/api/v1/mailboxes/${id}`, { name: "smtp-client", testMailbox: true })).statusCode).toBe(200);
    const rename = await api.patch(`/api/v1/mailboxes/${id}`, { name: "sender" });
    expect(rename.statusCode).toBe(400);
    expect(rename.json().error.code).toBe("field_read_only");
  });

  it("accepts exactly smtp-client as the outbound name", async () => {
    await start();
    const res = await api.post("/api/v1/mailboxes", outboundSmtp({ name: "smtp-client" }));
    expect(res.statusCode).toBe(201);
    expect(res.json().name).toBe("smtp-client");
  });

  it("allows one outbound mailbox, also when two requests race", async () => {
    await start();
    expect((await api.post("/api/v1/mailboxes", outboundSmtp())).statusCode).toBe(201);
    const second = await api.post("/api/v1/mailboxes", outboundSmtp({ type: "GRAPH", host: "graph.microsoft.com", port: 443, ...graphSignIn }));
    expect(second.statusCode).toBe(409);
    expect(second.json().error.code).toBe("outbound_mailbox_exists");

    await t.close();
    await start();
    const racing = await Promise.all([1, 2, 3, 4].map(() => api.post("/api/v1/mailboxes", outboundSmtp())));
    expect(racing.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409]);
    for (const r of racing.filter((x) => x.statusCode === 409)) expect(r.json().error.code).toBe("outbound_mailbox_exists");
    expect((await api.get("/api/v1/mailboxes?clientType=outbound")).json().items).toHaveLength(1);
  });

  it("checks inbound names: letters, digits, @ _ . and at most 40 characters, unique regardless of case", async () => {
    await start();
    const nameMessage = "Mailbox name may use letters, digits, @ _ . and at most 40 characters";
    for (const name of ["a".repeat(41), "two words", "with-dash", "smtp-client", "", "ümlaut"]) {
      const res = await api.post("/api/v1/mailboxes", inboundImap({ name }));
      expect(res.statusCode, name).toBe(400);
      expect(res.json().error.details, name).toEqual([{ path: "name", message: nameMessage }]);
    }
    const missing = await api.post("/api/v1/mailboxes", inboundImap({ name: undefined }));
    expect(missing.json().error.details).toEqual([{ path: "name", message: nameMessage }]);
    expect(await names()).toEqual([]);

    const longest = `a@b_c.${"d".repeat(34)}`;
    expect((await api.post("/api/v1/mailboxes", inboundImap({ name: longest }))).statusCode).toBe(201);
    expect((await api.post("/api/v1/mailboxes", inboundImap({ name: "Sales" }))).statusCode).toBe(201);
    const dup = await api.post("/api/v1/mailboxes", inboundImap({ name: "SALES" }));
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: "name_taken", details: [{ path: "name" }] });
  });

  it("refuses each invalid field with a reason a person can act on, and changes nothing", async () => {
    await start();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [inboundImap({ maxSizeMb: 4 }), "maxSizeMb", /^Max size must be a whole number of megabytes from 5 to 20$/],
      [inboundImap({ maxSizeMb: 21 }), "maxSizeMb", /from 5 to 20/],
      [inboundImap({ maxSizeMb: 5.5 }), "maxSizeMb", /whole number/],
      [inboundImap({ maxSizeMb: "10" }), "maxSizeMb", /whole number/],
      [inboundImap({ port: 0 }), "port", /^Port must be a whole number from 1 to 65535$/],
      [inboundImap({ port: 65536 }), "port", /1 to 65535/],
      [inboundImap({ port: "993" }), "port", /1 to 65535/],
      [inboundImap({ host: "imaps://imap.acme.test" }), "host", /server name or IP address/],
      [inboundImap({ host: "imap.acme.test:993" }), "host", /no port/],
      [inboundImap({ host: "" }), "host", /server name/],
      [inboundImap({ host: undefined }), "host", /server name/],
      [inboundImap({ security: "ssl" }), "security", /tls, starttls or none/],
      [inboundImap({ type: "FTP" }), "type", /IMAP, POP3, SMTP, GRAPH or EWS/],
      [inboundImap({ type: "SMTP" }), "type", /inbound mailbox reads mail over IMAP, POP3, GRAPH, EWS/],
      [outboundSmtp({ type: "IMAP" }), "type", /outbound mailbox sends mail over SMTP, GRAPH, EWS/],
      [outboundSmtp({ type: "POP3" }), "type", /outbound mailbox sends/],
      [inboundImap({ clientType: "both" }), "clientType", /inbound or outbound/],
      [inboundImap({ mailbox: "" }), "mailbox", /login name/],
      [inboundImap({ mailbox: undefined }), "mailbox", /login name/],
      [inboundImap({ password: "" }), "password", /Password must not be empty/],
      [inboundImap({ testMailbox: "yes" }), "testMailbox", /true or false/],
      [inboundImap({ fromAddress: "support@acme.test" }), "fromAddress", /outbound mailbox only/],
      [inboundImap({ fromAddressFolderId: "0190aaaa-0000-7000-8000-000000000000" }), "fromAddressFolderId", /outbound mailbox only/],
      [outboundSmtp({ fromAddress: "not an address" }), "fromAddress", /email address such as/],
      [outboundSmtp({ fromAddress: undefined }), "fromAddress", /Enter the From address/],
      [outboundSmtp({ maxSizeMb: 10 }), "maxSizeMb", /inbound mailboxes only/],
      [outboundSmtp({ options: { initialImport: "all" } }), "options", /inbound mailboxes only/],
      [outboundSmtp({ fromAddressFolderId: "0190aaaa-0000-7000-8000-000000000000" }), "fromAddressFolderId", /create the folder first/],
      [inboundImap({ colour: "red" }), "body", /Unknown field\(s\): colour/],
    ];
    for (const [payload, path, message] of cases) {
      const res = await api.post("/api/v1/mailboxes", payload);
      const what = `${path} ${JSON.stringify(payload[path] ?? payload)}`;
      expect(res.statusCode, what).toBe(400);
      expect(res.json().error.code, what).toBe("invalid_input");
      const detail = res.json().error.details.find((d: { path: string }) => d.path === path);
      expect(detail, `${what}: ${res.body}`).toBeDefined();
      expect(detail.message, what).toMatch(message);
    }
    expect(await names()).toEqual([]);
    expect((await auditActions(api)).filter((a) => a.action.startsWith("mailbox."))).toEqual([]);
  });

  it("lists by client type and searches name, mailbox and host ignoring case", async () => {
    await start();
    await createMailbox(api, outboundSmtp({ host: "smtp.relay.test" }));
    await createMailbox(api, inboundImap({ name: "support", mailbox: "help@acme.test", host: "imap.acme.test" }));
    await createMailbox(api, inboundPop3({ name: "pop_client", mailbox: "esj-22-30", host: "hmail.stg.example" }));
    await createMailbox(api, inboundImap({ name: "billing", mailbox: "bills100%@acme.test", host: "mx.other.test" }));
    const list = async (query: string) =>
      (await api.get(`/api/v1/mailboxes${query}`)).json().items.map((m: { name: string }) => m.name).sort();
    expect(await list("")).toEqual(["billing", "pop_client", "smtp-client", "support"]);
    expect(await list("?clientType=all")).toEqual(["billing", "pop_client", "smtp-client", "support"]);
    expect(await list("?clientType=outbound")).toEqual(["smtp-client"]);
    expect(await list("?clientType=inbound")).toEqual(["billing", "pop_client", "support"]);
    expect(await list("?q=SUPP")).toEqual(["support"]);
    expect(await list("?q=HELP%40")).toEqual(["support"]);
    expect(await list("?q=hmail.STG")).toEqual(["pop_client"]);
    expect(await list("?q=relay&clientType=inbound")).toEqual([]);
    expect(await list("?q=acme&clientType=inbound")).toEqual(["billing", "support"]);
    // % and _ are text, not wildcards
    expect(await list("?q=100%25")).toEqual(["billing"]);
    expect(await list("?q=p_c")).toEqual(["pop_client"]);
    expect(await list("?q=%25")).toEqual(["billing"]);
    const bad = await api.get("/api/v1/mailboxes?clientType=sideways");
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0]).toMatchObject({ path: "clientType", message: "clientType must be inbound, outbound or all" });
  });

  it("keeps name and client type read-only after creation", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const rename = await api.patch(`/api/v1/mailboxes/${id}`, { name: "renamed" });
    expect(rename.statusCode).toBe(400);
    expect(rename.json().error).toMatchObject({ code: "field_read_only", details: [{ path: "name" }] });
    const retype = await api.patch(`/api/v1/mailboxes/${id}`, { clientType: "outbound" });
    expect(retype.statusCode).toBe(400);
    expect(retype.json().error).toMatchObject({ code: "field_read_only", details: [{ path: "clientType" }] });
    const same = await api.patch(`/api/v1/mailboxes/${id}`, { name: "support", clientType: "inbound", maxSizeMb: 20 });
    expect(same.statusCode).toBe(200);
    expect(same.json()).toMatchObject({ name: "support", maxSizeMb: 20 });
    expect(await names()).toEqual(["support"]);
  });

  it("patches fields that need no password, refuses invalid ones and leaves the mailbox as it was", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const before = (await api.get(`/api/v1/mailboxes/${id}`)).json();
    for (const [patch, path] of [
      [{ maxSizeMb: 25 }, "maxSizeMb"],
      [{ port: 70000, password: "x-pass-1" }, "port"],
      [{ security: "plain" }, "security"],
      [{ type: "SMTP", password: "x-pass-1" }, "type"],
      [{ fromAddress: "a@b.test" }, "fromAddress"],
      [{ passwordSet: false }, "body"],
    ] as const) {
      const res = await api.patch(`/api/v1/mailboxes/${id}`, patch);
      expect(res.statusCode, JSON.stringify(patch)).toBe(400);
      expect(res.json().error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json()).toEqual(before);
    expect((await auditActions(api)).filter((a) => a.action === "mailbox.update")).toEqual([]);

    const ok = await api.patch(`/api/v1/mailboxes/${id}`, { maxSizeMb: 12, security: "starttls", testMailbox: true });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ maxSizeMb: 12, security: "starttls", testMailbox: true, passwordSet: true });
    expect(ok.json().updatedAt >= before.updatedAt).toBe(true);
    const updated = (await auditActions(api)).find((a) => a.action === "mailbox.update");
    expect(updated).toMatchObject({ target: { id }, changes: { maxSizeMb: 12, security: "starttls", testMailbox: true } });
  });

  it("answers 404 for a mailbox that does not exist", async () => {
    await start();
    const missing = "0190aaaa-0000-7000-8000-000000000000";
    expect((await api.get(`/api/v1/mailboxes/${missing}`)).statusCode).toBe(404);
    expect((await api.patch(`/api/v1/mailboxes/${missing}`, { maxSizeMb: 6 })).statusCode).toBe(404);
    expect((await api.del(`/api/v1/mailboxes/${missing}`)).statusCode).toBe(404);
    expect((await api.post(`/api/v1/mailboxes/${missing}/test`)).statusCode).toBe(404);
  });

  it("deletes a disabled mailbox and audits it", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    expect((await api.del(`/api/v1/mailboxes/${id}`)).statusCode).toBe(204);
    expect((await api.get(`/api/v1/mailboxes/${id}`)).statusCode).toBe(404);
    expect((await auditActions(api)).find((a) => a.action === "mailbox.delete")).toMatchObject({ target: { id }, changes: { name: "support" } });
  });

  it("keeps a mailbox that Mailroom holds interactions of", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const k = t.store.db.kysely;
    await k.insertInto("blobs").values({ id: "blob-1", data: Buffer.from("Subject: hi\r\n\r\nhi"), size: 17 }).execute();
    await k
      .insertInto("messages")
      .values({
        id: "interaction-1", mailbox_id: id, direction: "in", internet_message_id: null, subject: "hi",
        from_address: "c@example.test", from_name: "", to_json: "[]", cc_json: "[]", reply_to_json: "[]",
        received_at: "2025-01-01T00:00:00.000Z", thread_id: "interaction-1", size_bytes: 17, flag_auto_reply: 0, flag_bounce: 0,
        flag_loop: 0, wrapped: null, dedup_key: "k", raw_blob_id: "blob-1", text: "hi", html: null, created_at: "2025-01-01T00:00:00.000Z",
      })
      .execute();
    const res = await api.del(`/api/v1/mailboxes/${id}`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: "in_use", message: expect.stringMatching(/interactions/) });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).statusCode).toBe(200);
  });

  it("points the outbound mailbox at an existing From-address folder, or at none", async () => {
    await start();
    const id = await createMailbox(api, outboundSmtp());
    const folder = (await api.post("/api/v1/business-attributes", { name: "Agents" })).json().id;
    const set = await api.patch(`/api/v1/mailboxes/${id}`, { fromAddressFolderId: folder, fromAddress: "help@acme.test" });
    expect(set.json()).toMatchObject({ fromAddressFolderId: folder, fromAddress: "help@acme.test" });
    const unknown = await api.patch(`/api/v1/mailboxes/${id}`, { fromAddressFolderId: "0190aaaa-0000-7000-8000-000000000000" });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.details).toEqual([{ path: "fromAddressFolderId", message: expect.stringMatching(/create the folder first/) }]);
    expect((await api.patch(`/api/v1/mailboxes/${id}`, { fromAddressFolderId: null })).json().fromAddressFolderId).toBeNull();
  });

  it("documents the mailbox routes in the OpenAPI document", async () => {
    await start();
    const doc = (await api.get("/api/openapi.json")).json();
    expect(Object.keys(doc.paths["/api/v1/mailboxes/{id}"]).sort()).toEqual(["delete", "get", "patch"]);
    expect(doc.paths["/api/v1/mailboxes"].post.requestBody.content["application/json"].schema.properties.maxSizeMb).toMatchObject({
      minimum: 5,
      maximum: 20,
    });
  });

  it("shows the runner's status only while the mailbox is enabled", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const queue = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
    const mailboxes = t.app.services.mailboxes;
    await mailboxes.setStatus(id, { state: "ok", lastSyncAt: "2025-01-01T00:00:00.000Z" });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().status).toEqual({ state: "disabled", warnings: [] });

    const app = (await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [id], enabled: true })).json();
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().status).toEqual({ state: "ok", lastSyncAt: "2025-01-01T00:00:00.000Z", warnings: [] });
    await mailboxes.setStatus(id, { state: "error", code: "auth_failed", message: "The server refused the password." });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json()).toMatchObject({
      enabled: true,
      status: { state: "error", code: "auth_failed", message: "The server refused the password." },
    });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().status.lastSyncAt).toBeUndefined();

    await api.patch(`/api/v1/applications/${app.id}`, { enabled: false });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().status).toEqual({ state: "disabled", warnings: [] });
  });

  it("says connecting for an enabled mailbox whose runner has not reported", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const queue = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
    await api.post("/api/v1/applications", { name: "Mail", queueId: queue, mailboxIds: [id], enabled: true });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json()).toMatchObject({ enabled: true, status: { state: "connecting" } });
    // a runner that stopped wrote "disabled"; enabled again, the mailbox is connecting, not disabled
    await t.app.services.mailboxes.setStatus(id, { state: "disabled" });
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().status).toEqual({ state: "connecting", warnings: [] });
  });

  it("shows what the runner set aside or could not do with the status, newest first, until an admin clears it", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const mailboxes = t.app.services.mailboxes;
    for (let i = 1; i <= 23; i++) await mailboxes.recordWarning(id, "message_skipped", `message ${i} was set aside`);
    await mailboxes.recordWarning(id, "ack_refused", "the server refused \\Seen");
    const warnings = (await api.get(`/api/v1/mailboxes/${id}`)).json().status.warnings;
    expect(warnings).toHaveLength(20);
    expect(warnings[0]).toMatchObject({ code: "ack_refused", message: "the server refused \\Seen", at: expect.any(String) });
    expect(warnings[1].message).toBe("message 23 was set aside");
    expect((await api.get("/api/v1/mailboxes")).json().items.find((m: { id: string }) => m.id === id).status.warnings).toHaveLength(20);

    const agent = await t.tokenFor("agent");
    expect((await t.request({ method: "DELETE", url: `/api/v1/mailboxes/${id}/warnings`, token: agent })).statusCode).toBe(403);
    expect((await api.del(`/api/v1/mailboxes/${id}/warnings`)).statusCode).toBe(204);
    expect((await api.get(`/api/v1/mailboxes/${id}`)).json().status.warnings).toEqual([]);
    expect((await api.del("/api/v1/mailboxes/nope/warnings")).statusCode).toBe(404);
    const audit = (await api.get("/api/v1/audit")).json().items;
    expect(audit[0]).toMatchObject({ action: "mailbox.warnings.clear", changes: { cleared: 20 } });
  });
});
