import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { accessibilityProblems, layoutShift, recordLayoutShifts } from "./page-checks.js";

const pagePaths = ["/mailboxes", "/applications", "/routing", "/users", "/account", "/supervisor", "/workspace"];

describe("every page: accessible, usable on a narrow screen, no layout shift when data arrives", () => {
  let ui: UiHarness;
  beforeAll(async () => {
    ui = await startUi();
    const token = await ui.adminToken();
    const call = async (method: "POST" | "PUT", url: string, payload: object) => {
      const res = await ui.t.request({ method, url, token, payload });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json<{ id: string }>();
    };
    const queue = await call("POST", "/api/v1/queues", { name: "Support" });
    const inbound = await call("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: "support",
      type: "IMAP",
      mailbox: "support@acme.test",
      password: "secret-1",
      host: "127.0.0.1",
      port: 1,
      security: "none",
    });
    await call("POST", "/api/v1/applications", { name: "Support desk", enabled: false, mailboxIds: [inbound.id], queueId: queue.id });
    await call("POST", "/api/v1/routes", { pattern: "@acme.test", queueId: queue.id, priority: 10 });
  });
  afterAll(async () => {
    await ui?.close();
  });

  for (const viewport of [
    { name: "1280×800", width: 1280, height: 800 },
    { name: "narrow 390×844", width: 390, height: 844 },
  ]) {
    it(`at ${viewport.name}: no serious accessibility problem, no sideways scrolling, no layout shift`, async () => {
      const page = await ui.newPage({ width: viewport.width, height: viewport.height });
      await recordLayoutShifts(page);
      await ui.signIn(page, "admin", adminPassword);
      const problems: string[] = [];
      for (const path of pagePaths) {
        await page.goto(ui.base + path);
        await page.getByRole("heading", { level: 1 }).first().waitFor();
        // data has arrived when nothing is marked busy any more
        await expect.poll(() => page.locator("[aria-busy='true']").count()).toBe(0);
        for (const p of await accessibilityProblems(page)) problems.push(`${path}: ${p}`);
        const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
        if (overflow > 0) problems.push(`${path}: the page scrolls sideways by ${overflow}px`);
        const shift = await layoutShift(page);
        // 0.1 is the bound the Layout Instability API's authors call good
        if (shift >= 0.1) problems.push(`${path}: layout shift ${shift.toFixed(3)} while loading`);
        if (viewport.width === 1280) await ui.screenshot(page, `page${path.replace(/\//g, "-")}`);
      }
      expect(problems).toEqual([]);
    });
  }

  it("is usable with the keyboard alone: sign-in, the skip link, the navigation", async () => {
    const page = await ui.newPage();
    await page.goto(ui.base + "/");
    await page.getByLabel("Username").focus();
    await page.keyboard.type("admin");
    await page.keyboard.press("Tab");
    await page.keyboard.type(adminPassword);
    await page.keyboard.press("Enter");
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement?.id")).toBe("main");
    // the navigation's links are reachable and followed with Enter
    const routing = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Routing" });
    await routing.focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/routing$/);
  });
});
