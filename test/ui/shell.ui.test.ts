import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";

describe("web app shell: served by Mailroom, sign-in, role-aware navigation", () => {
  let ui: UiHarness;
  beforeAll(async () => {
    ui = await startUi();
  });
  afterAll(async () => {
    await ui?.close();
  });

  it("serves the app at / and at every page path, with a CSP that allows only Mailroom's own scripts", async () => {
    const root = await fetch(ui.base + "/");
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toMatch(/text\/html/);
    expect(root.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(root.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const deep = await fetch(ui.base + "/mailboxes/some-id");
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(await root.text());
    // the API's 404 stays the API's: JSON, not the app
    const api = await fetch(ui.base + "/api/v1/no-such-thing");
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: { code: "not_found" } });
    // a missing asset is a 404, never index.html run as a script
    expect((await fetch(ui.base + "/assets/missing-abc123.js")).status).toBe(404);
  });

  it("says why a sign-in failed, in the API's words, and signs in with the right password", async () => {
    const page = await ui.newPage();
    await page.goto(ui.base + "/");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/password/i);
    await page.getByLabel("Password").fill(adminPassword);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    // an admin lands on the mailboxes
    await page.waitForURL(/\/mailboxes$/);
    await ui.screenshot(page, "sign-in-done");
  });

  it("shows each role only its pages, and refuses a page of another role when opened by its address", async () => {
    const password = await ui.createUser("agent7", "agent");
    const page = await ui.newPage();
    await ui.signIn(page, "agent7", password);
    await page.waitForURL(/\/workspace$/);
    const nav = page.getByRole("navigation", { name: "Main" });
    expect(await nav.getByRole("link").allTextContents()).toEqual(["Workspace", "Account"]);
    await page.goto(ui.base + "/mailboxes");
    await expect.poll(() => page.getByRole("main").textContent()).toMatch(/Mailboxes is for admin users/);

    const admin = await ui.newPage();
    await ui.signIn(admin, "admin", adminPassword);
    expect(await admin.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents()).toEqual([
      "Workspace",
      "Supervisor",
      "Mailboxes",
      "Applications",
      "Routing",
      "Users",
      "Account",
    ]);
  });

  it("returns to the sign-in form, saying why, when the session ends elsewhere", async () => {
    const password = await ui.createUser("agent8", "agent");
    const page = await ui.newPage();
    await ui.signIn(page, "agent8", password);
    const token = await ui.adminToken();
    const users = (await ui.t.request({ method: "GET", url: "/api/v1/users", token })).json<{ items: { id: string; username: string }[] }>();
    const id = users.items.find((u) => u.username === "agent8")!.id;
    expect((await ui.t.request({ method: "PATCH", url: `/api/v1/users/${id}`, token, payload: { disabled: true } })).statusCode).toBe(200);
    // the event stream ends with the session; the app notices and asks to sign in again
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await expect.poll(() => page.textContent("body")).toMatch(/session has ended/);
  });
});
