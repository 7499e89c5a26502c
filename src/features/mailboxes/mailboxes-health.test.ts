import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, graphSignIn, inboundGraph, inboundImap } from "../../../test/support/admin-api.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";

describe("mailbox health for supervisors", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("sqlite");
    const api = adminApi(t, await t.tokenFor("admin"));
    expect((await api.post("/api/v1/mailboxes", inboundImap())).statusCode).toBe(201);
    // expiring in 10 days from today's clock: the view must say so
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const graph = inboundGraph({ auth: { ...graphSignIn.auth, secretExpiresAt: soon } });
    expect((await api.post("/api/v1/mailboxes", graph)).statusCode).toBe(201);
  });
  afterAll(async () => t?.close());

  it("shows each mailbox's state and secret expiry, and none of its connection settings", async () => {
    const res = await t.request({ method: "GET", url: "/api/v1/mailboxes/health", token: await t.tokenFor("supervisor") });
    expect(res.statusCode).toBe(200);
    const items = res.json().items as Record<string, unknown>[];
    expect(items.map((m) => m["name"]).sort()).toEqual(["graph", "support"]);
    expect(items.find((m) => m["name"] === "support")).toMatchObject({ type: "IMAP", enabled: false, status: { state: "disabled" }, secretExpiry: null });
    expect(items.find((m) => m["name"] === "graph")).toMatchObject({ type: "GRAPH", secretExpiry: { state: "expiring", daysLeft: expect.any(Number) } });
    for (const item of items) expect(Object.keys(item).sort()).toEqual(["clientType", "enabled", "id", "name", "secretExpiry", "status", "type"]);
    // the full mailbox list stays the administrators'
    expect((await t.request({ method: "GET", url: "/api/v1/mailboxes", token: await t.tokenFor("supervisor") })).statusCode).toBe(403);
    expect((await t.request({ method: "GET", url: "/api/v1/mailboxes/health", token: await t.tokenFor("agent") })).statusCode).toBe(403);
  });
});
