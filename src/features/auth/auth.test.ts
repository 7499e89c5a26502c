import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, adminPassword, type TestApp } from "../../../test/support/test-app.js";
import { testDialects } from "../../../test/support/dialects.js";

describe.each(testDialects())("sign-in (%s)", (dialect) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it("creates the first admin and signs in with a bearer token and an HttpOnly cookie", async () => {
    t = await createTestApp(dialect);
    const res = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: adminPassword } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.user).toMatchObject({ username: "admin", role: "admin" });
    const setCookie = String(res.headers["set-cookie"]);
    expect(setCookie).toMatch(/mailroom_session=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);

    const byBearer = await t.request({ method: "GET", url: "/api/v1/me", token: body.token });
    expect(byBearer.json()).toMatchObject({ username: "admin", role: "admin" });
    const byCookie = await t.request({ method: "GET", url: "/api/v1/me", cookies: { mailroom_session: body.token } });
    expect(byCookie.statusCode).toBe(200);
  });

  it("refuses a wrong password and an unknown user with the same answer", async () => {
    t = await createTestApp(dialect);
    const wrong = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: "nope-nope" } });
    const unknown = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "ghost", password: "nope-nope" } });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
  });

  it("signs out: the token stops working", async () => {
    t = await createTestApp(dialect);
    const token = await t.tokenFor("agent");
    expect((await t.request({ method: "POST", url: "/api/v1/auth/logout", token })).statusCode).toBe(204);
    expect((await t.request({ method: "GET", url: "/api/v1/me", token })).statusCode).toBe(401);
  });

  it("rate-limits sign-in attempts per address and username", async () => {
    t = await createTestApp(dialect, { loginRateLimitPerMinute: 3 });
    const attempt = () => t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: "wrong-pass" } });
    for (let i = 0; i < 3; i++) expect((await attempt()).statusCode).toBe(401);
    const limited = await attempt();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe("rate_limited");
    expect(limited.headers["retry-after"]).toBeDefined();
  });

  it("lets an admin create users, refuses bad input with a reason per field, and audits without the password", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const bad = await t.request({ method: "POST", url: "/api/v1/users", token: admin, payload: { username: "a b", password: "short", role: "boss" } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.map((d: { path: string }) => d.path).sort()).toEqual(["password", "role", "username"]);
    const ok = await t.request({ method: "POST", url: "/api/v1/users", token: admin, payload: { username: "ann", password: "planted-Secret-42", role: "agent" } });
    expect(ok.statusCode).toBe(201);
    const dup = await t.request({ method: "POST", url: "/api/v1/users", token: admin, payload: { username: "ann", password: "another-one-1", role: "agent" } });
    expect(dup.statusCode).toBe(409);
    const audit = await t.request({ method: "GET", url: "/api/v1/audit", token: admin });
    const entry = audit.json().items.find((i: { action: string; changes: { username?: string } }) => i.action === "user.create" && i.changes.username === "ann");
    expect(entry).toMatchObject({ actor: { username: "admin" }, target: { type: "user" } });
    expect(entry.changes.password).toBe("[secret]");
    expect(audit.body).not.toContain("planted-Secret-42");
    expect(t.logText()).not.toContain("planted-Secret-42");
  });
});
