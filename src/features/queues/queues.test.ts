import { afterEach, describe, expect, it } from "vitest";
import { adminApi, auditActions } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";

describe.each(testDialects())("queues (%s)", (dialect) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it("lets admins and supervisors create queues and every signed-in role list them", async () => {
    t = await createTestApp(dialect);
    const admin = adminApi(t, await t.tokenFor("admin"));
    const supervisor = adminApi(t, await t.tokenFor("supervisor"));
    const agent = adminApi(t, await t.tokenFor("agent"));
    const support = await admin.post("/api/v1/queues", { name: "  Support " });
    expect(support.statusCode).toBe(201);
    expect(support.json()).toEqual({ id: expect.any(String), name: "Support" });
    expect((await supervisor.post("/api/v1/queues", { name: "Billing" })).statusCode).toBe(201);
    expect((await agent.post("/api/v1/queues", { name: "Mine" })).statusCode).toBe(403);
    const listed = await agent.get("/api/v1/queues");
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items.map((q: { name: string }) => q.name)).toEqual(["Billing", "Support"]);
    const created = (await auditActions(admin)).filter((a) => a.action === "queue.create");
    expect(created.map((a) => a.changes.name).sort()).toEqual(["Billing", "Support"]);
  });

  it("keeps names unique regardless of case and refuses empty ones", async () => {
    t = await createTestApp(dialect);
    const admin = adminApi(t, await t.tokenFor("admin"));
    await admin.post("/api/v1/queues", { name: "Support" });
    const dup = await admin.post("/api/v1/queues", { name: "SUPPORT" });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: "name_taken", details: [{ path: "name" }] });
    for (const name of ["", "   ", "x".repeat(101), 7]) {
      const res = await admin.post("/api/v1/queues", { name });
      expect(res.statusCode, String(name)).toBe(400);
      expect(res.json().error.details[0].path).toBe("name");
      expect(res.json().error.details[0].message).toMatch(/Enter a queue name|at most 100 characters/);
    }
    expect((await admin.get("/api/v1/queues")).json().items).toHaveLength(1);
  });
});
