import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../test/support/test-app.js";

/** A web dir inside a temp dir that also holds mailroom-outside.txt, a file the server must never hand out. */
function webDirWith(files: Record<string, string>): string {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-web-test-"));
  fs.writeFileSync(path.join(parent, "mailroom-outside.txt"), "secret");
  const dir = path.join(parent, "web");
  fs.mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  return dir;
}

describe("the web app served at /", () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = webDirWith({ "index.html": '<!doctype html><div id="root"></div>', "assets/app-abc123.js": "console.log(1)" });
    t = await createTestApp("sqlite", { webDir: dir });
  });
  afterAll(async () => {
    await t?.close();
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it("answers every page path with index.html under a CSP, and hashed assets as immutable", async () => {
    for (const url of ["/", "/mailboxes", "/workspace/123?x=1"]) {
      const res = await t.request({ method: "GET", url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('<div id="root">');
      expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["cache-control"]).toBe("no-cache");
    }
    const asset = await t.request({ method: "GET", url: "/assets/app-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(asset.headers["cache-control"]).toContain("immutable");
  });

  it("keeps the API's answers under /api, and serves nothing outside the built app", async () => {
    const api = await t.request({ method: "GET", url: "/api/v1/nothing-here" });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ error: { code: "not_found" } });
    // a long id is still the API's 414, not a page
    expect((await t.request({ method: "GET", url: `/api/v1/interactions/${"x".repeat(300)}` })).statusCode).toBe(414);
    for (const url of ["/assets/missing.js", "/%2e%2e/mailroom-outside.txt", "/..%2f..%2fetc%2fpasswd.txt"]) {
      const res = await t.request({ method: "GET", url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain("secret");
    }
    // a broken %-escape is refused (by the router, 400), never answered with the app
    const broken = await t.request({ method: "GET", url: "/%E0%A4%A" });
    expect(broken.statusCode).toBeGreaterThanOrEqual(400);
    expect(broken.body).not.toContain('<div id="root">');
    // other methods are the API's 404 everywhere
    expect((await t.request({ method: "POST", url: "/mailboxes" })).statusCode).toBe(404);
  });

  it("says how to build the app when it has not been built", async () => {
    const empty = webDirWith({});
    const bare = await createTestApp("sqlite", { webDir: empty });
    try {
      const res = await bare.request({ method: "GET", url: "/" });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain("npm run build");
    } finally {
      await bare.close();
      fs.rmSync(path.dirname(empty), { recursive: true, force: true });
    }
  });
});
