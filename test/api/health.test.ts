import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../support/test-app.js";

describe("health, metrics and the OpenAPI document", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("sqlite");
  });
  afterAll(async () => t?.close());

  it("answers /healthz, /readyz and /metrics", async () => {
    expect((await t.request({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await t.request({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    const m = await t.request({ method: "GET", url: "/metrics", token: await t.tokenFor("admin") });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain("process_cpu_user_seconds_total");
  });

  it("serves an OpenAPI document generated from the route schemas", async () => {
    const res = await t.request({ method: "GET", url: "/api/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.paths["/api/v1/auth/login"].post.requestBody).toBeDefined();
  });

  it("answers unknown routes with the error shape", async () => {
    const res = await t.request({ method: "GET", url: "/api/v1/nothing-here" });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("not_found");
  });
});
