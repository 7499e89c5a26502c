import { afterEach, describe, expect, it } from "vitest";
import { adminApi, auditActions, createMailbox, outboundSmtp, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { adminPassword, createTestApp, type TestApp } from "../../../test/support/test-app.js";

describe.each(testDialects())("From addresses (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  afterEach(async () => t?.close());

  async function start() {
    t = await createTestApp(dialect);
    api = adminApi(t, await t.tokenFor("admin"));
  }

  async function folder(name = "Agents"): Promise<string> {
    const res = await api.post("/api/v1/business-attributes", { name });
    expect(res.statusCode).toBe(201);
    return res.json().id;
  }

  /** A new sign-in, so a new session with its own snapshot of From addresses. */
  async function signIn(username: string, password: string): Promise<string> {
    const res = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } });
    return res.json().token;
  }

  it("keeps folders of addresses, each address once per folder regardless of case", async () => {
    await start();
    const agents = await folder();
    expect((await api.get("/api/v1/business-attributes")).json().items).toEqual([{ id: agents, name: "Agents" }]);
    const dupFolder = await api.post("/api/v1/business-attributes", { name: "agents" });
    expect(dupFolder.statusCode).toBe(409);

    const sales = await api.post(`/api/v1/business-attributes/${agents}/values`, { name: "sales@acme.test", displayName: "Acme Sales" });
    expect(sales.statusCode).toBe(201);
    expect(sales.json()).toEqual({ id: expect.any(String), folderId: agents, name: "sales@acme.test", displayName: "Acme Sales" });
    const dup = await api.post(`/api/v1/business-attributes/${agents}/values`, { name: "Sales@ACME.test", displayName: "Again" });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.details).toEqual([{ path: "name", message: "is already in this folder" }]);
    // another folder may hold the same address
    const other = await folder("Managers");
    expect((await api.post(`/api/v1/business-attributes/${other}/values`, { name: "sales@acme.test" })).statusCode).toBe(201);

    const values = await api.get(`/api/v1/business-attributes/${agents}/values`);
    expect(values.json().items).toEqual([sales.json()]);
    expect((await api.del(`/api/v1/business-attributes/${agents}/values/${sales.json().id}`)).statusCode).toBe(204);
    expect((await api.get(`/api/v1/business-attributes/${agents}/values`)).json().items).toEqual([]);
    expect((await api.del(`/api/v1/business-attributes/${agents}/values/${sales.json().id}`)).statusCode).toBe(404);
    // a value is deleted through its own folder only
    const managersValue = (await api.get(`/api/v1/business-attributes/${other}/values`)).json().items[0].id;
    expect((await api.del(`/api/v1/business-attributes/${agents}/values/${managersValue}`)).statusCode).toBe(404);

    const actions = (await auditActions(api)).map((a) => a.action);
    expect(actions.filter((a) => a === "business_attribute_value.create")).toHaveLength(2);
    expect(actions).toContain("business_attribute_value.delete");
    expect(actions.filter((a) => a === "business_attribute.create")).toHaveLength(2);
  });

  it("refuses addresses that are not addresses, and unknown folders", async () => {
    await start();
    const agents = await folder();
    for (const name of ["not an address", "a@b", "@acme.test", "sales@", "sales@@acme.test", "", 42]) {
      const res = await api.post(`/api/v1/business-attributes/${agents}/values`, { name, displayName: "X" });
      expect(res.statusCode, String(name)).toBe(400);
      expect(res.json().error.details).toEqual([{ path: "name", message: "Enter an email address such as support@example.com" }]);
    }
    const long = await api.post(`/api/v1/business-attributes/${agents}/values`, { name: "a@acme.test", displayName: "x".repeat(121) });
    expect(long.json().error.details).toEqual([{ path: "displayName", message: "Display name may have at most 120 characters" }]);
    const noName = await api.post("/api/v1/business-attributes", { name: "" });
    expect(noName.json().error.details).toEqual([{ path: "name", message: "Enter a folder name" }]);
    expect((await api.get(`/api/v1/business-attributes/${agents}/values`)).json().items).toEqual([]);
    const unknown = "0190aaaa-0000-7000-8000-000000000000";
    expect((await api.get(`/api/v1/business-attributes/${unknown}/values`)).statusCode).toBe(404);
    expect((await api.post(`/api/v1/business-attributes/${unknown}/values`, { name: "a@acme.test" })).statusCode).toBe(404);
  });

  it("gives each session the From addresses of its sign-in: the outbound address first, then its folder", async () => {
    await start();
    const agentToken = await t.tokenFor("agent");
    const agent = adminApi(t, agentToken);
    expect((await agent.get("/api/v1/me/from-addresses")).json()).toEqual([]);

    const agents = await folder();
    await api.post(`/api/v1/business-attributes/${agents}/values`, { name: "sales@acme.test", displayName: "Acme Sales" });
    await api.post(`/api/v1/business-attributes/${agents}/values`, { name: "Support@acme.test", displayName: "Acme Support" });
    const unrelated = await folder("Unrelated");
    await api.post(`/api/v1/business-attributes/${unrelated}/values`, { name: "other@acme.test" });
    await createMailbox(api, outboundSmtp({ fromAddress: "support@acme.test", fromAddressFolderId: agents }));

    const first = adminApi(t, await signIn("agent1", "agent-password-1"));
    const expected = [
      { address: "support@acme.test", displayName: "Acme Support" },
      { address: "sales@acme.test", displayName: "Acme Sales" },
    ];
    expect((await first.get("/api/v1/me/from-addresses")).json()).toEqual(expected);

    await api.post(`/api/v1/business-attributes/${agents}/values`, { name: "billing@acme.test", displayName: "Acme Billing" });
    // the session keeps what it had at sign-in, as the reference says
    expect((await first.get("/api/v1/me/from-addresses")).json()).toEqual(expected);
    const second = adminApi(t, await signIn("agent1", "agent-password-1"));
    expect((await second.get("/api/v1/me/from-addresses")).json()).toEqual([...expected, { address: "billing@acme.test", displayName: "Acme Billing" }]);
    // an admin session has its own snapshot too
    const admin = adminApi(t, await signIn("admin", adminPassword));
    expect((await admin.get("/api/v1/me/from-addresses")).json()).toHaveLength(3);
  });
});
