import type { InjectOptions } from "fastify";
import type { RouteEntry } from "../../src/http/access.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../support/test-app.js";

/** A call to the route with path parameters filled by a well-formed id that exists nowhere. */
function callOf(r: RouteEntry, token?: string): InjectOptions & { token?: string } {
  const url = r.url.replace(/:[A-Za-z]+/g, "0190aaaa-0000-7000-8000-000000000000");
  const call: InjectOptions & { token?: string } = { method: r.method, url };
  if (r.method !== "GET" && r.method !== "DELETE") call.payload = {};
  if (token) call.token = token;
  return call;
}

describe("every route enforces the roles it declares", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("sqlite");
  });
  afterAll(async () => t?.close());

  it("declares access on every /api route", () => {
    const api = t.app.routeTable.filter((r) => r.url.startsWith("/api/v1/"));
    expect(api.length).toBeGreaterThan(3);
    for (const r of api) expect(r.access, `${r.method} ${r.url}`).toBeDefined();
  });

  it("refuses anonymous callers (401) on every non-public route", async () => {
    const guarded = t.app.routeTable.filter((r) => r.url.startsWith("/api/v1/") && r.access !== "public");
    for (const r of guarded) {
      const res = await t.request(callOf(r));
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(res.json().error.code).toBe("unauthenticated");
    }
  });

  it("refuses an agent (403) on every admin-only route, and a supervisor where only admins may", async () => {
    const agent = await t.tokenFor("agent");
    const supervisor = await t.tokenFor("supervisor");
    const routes = t.app.routeTable.filter((r) => r.url.startsWith("/api/v1/") && Array.isArray(r.access));
    const adminOnly = routes.filter((r) => !(r.access as string[]).includes("agent"));
    expect(adminOnly.length).toBeGreaterThan(0);
    for (const r of adminOnly) {
      const res = await t.request(callOf(r, agent));
      expect(res.statusCode, `agent ${r.method} ${r.url}`).toBe(403);
      if (!(r.access as string[]).includes("supervisor")) {
        const s = await t.request(callOf(r, supervisor));
        expect(s.statusCode, `supervisor ${r.method} ${r.url}`).toBe(403);
      }
    }
  });
});
