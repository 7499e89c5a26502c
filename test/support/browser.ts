import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { inject } from "vitest";
import type { Config } from "../../src/config.js";
import type { AppDeps } from "../../src/app.js";
import { freePort } from "./net.js";
import { launchChromium } from "./chromium.js";
import { adminPassword, createTestApp, type TestApp } from "./test-app.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** where the tests save their screenshots; the best are copied to docs/ by hand */
export const screenshotDir = path.join(root, "test-results", "ui");

export interface UiHarness {
  /** e.g. http://127.0.0.1:41234 */
  base: string;
  t: TestApp;
  browser: Browser;
  /** a new browser context (its own cookies) at 1280×800, or the size given */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** opens the app and signs in through the sign-in form; answers when the main navigation shows */
  signIn(page: Page, username: string, password: string): Promise<void>;
  /** creates a user through the API (admin token) and answers its password */
  createUser(username: string, role: "admin" | "supervisor" | "agent"): Promise<string>;
  /** a bearer token of the admin, for setting things up through the API */
  adminToken(): Promise<string>;
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real Mailroom on SQLite listening on 127.0.0.1, serving the web app the global setup built from
 * web/, and a headless Chromium to drive it.
 */
export async function startUi(overrides: Partial<Config> = {}, deps: Partial<AppDeps> = {}): Promise<UiHarness> {
  const webDir = inject("webDir");
  if (!webDir) throw new Error("the global test setup did not build the web app (no webDir provided)");
  const t = await createTestApp("sqlite", { webDir, ...overrides }, deps);
  const port = await freePort();
  await t.app.http.listen({ port, host: "127.0.0.1" });
  const base = `http://127.0.0.1:${port}`;
  const browser = await launchChromium();
  const contexts: BrowserContext[] = [];
  const harness: UiHarness = {
    base,
    t,
    browser,
    async newPage(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport, baseURL: base });
      contexts.push(context);
      const page = await context.newPage();
      return page;
    },
    async signIn(page, username, password) {
      await page.goto(base + "/");
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("navigation", { name: "Main" }).waitFor();
    },
    async createUser(username, role) {
      const password = `${username}-password-1`;
      const res = await t.request({ method: "POST", url: "/api/v1/users", token: await t.tokenFor("admin"), payload: { username, password, role } });
      if (res.statusCode !== 201) throw new Error(`creating ${username} failed: ${res.statusCode} ${res.body}`);
      return password;
    },
    adminToken: () => t.tokenFor("admin"),
    async screenshot(page, name) {
      fs.mkdirSync(screenshotDir, { recursive: true });
      await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await t.close();
    },
  };
  return harness;
}

export { adminPassword };
