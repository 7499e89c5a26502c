import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { fitsNarrow } from "./page-checks.js";

interface MailboxView {
  id: string;
  name: string;
  enabled: boolean;
}
interface ApplicationView {
  id: string;
  name: string;
  enabled: boolean;
  mailboxIds: string[];
  queueId: string;
  autoAcknowledge?: { enabled: boolean; subject: string; text: string };
}

describe("applications page: what enables mailboxes", () => {
  let ui: UiHarness;
  let token: string;
  const api = async <T>(method: "GET" | "POST", url: string, payload?: object): Promise<T> => {
    const res = await ui.t.request({ method, url, token, ...(payload ? { payload } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json<T>();
  };
  const inboundMailbox = (name: string) =>
    api<MailboxView>("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name,
      type: "IMAP",
      mailbox: name,
      password: "x",
      host: "127.0.0.1",
      port: 1143,
      security: "none",
    });
  const mailbox = async (id: string) => api<MailboxView>("GET", `/api/v1/mailboxes/${id}`);
  const applications = async () => (await api<{ items: ApplicationView[] }>("GET", "/api/v1/applications")).items;
  const isFocused = (field: Locator) => field.evaluate((el) => el === el.ownerDocument.activeElement);
  /** what the application's row says of one of its mailboxes: its name and state */
  const shownMailbox = (page: Page, application: string, name: string) =>
    page.getByRole("list", { name: `Mailboxes of ${application}` }).getByRole("listitem").filter({ hasText: name }).textContent();

  beforeAll(async () => {
    ui = await startUi();
    token = await ui.adminToken();
  });
  afterAll(async () => {
    await ui?.close();
  });

  it("says what is missing before there can be an application, with a link to where to make it", async () => {
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Applications" }).click();
    await page.getByText("No application yet").waitFor();
    await page.getByText("No queue yet").waitFor();
    await page.getByText("No inbound mailbox yet").waitFor();
    expect(await page.getByRole("button", { name: "New application" }).isDisabled()).toBe(true);
    await ui.screenshot(page, "applications-empty");
    await page.getByRole("main").getByRole("link", { name: "Mailboxes" }).waitFor();
    await page.getByRole("main").getByRole("link", { name: "Routing" }).click();
    await page.waitForURL(/\/routing$/);
  });

  it("creates an application whose mailbox shows enabled, and shows it disabled after the application is disabled, as the API says", async () => {
    const queue = await api<{ id: string }>("POST", "/api/v1/queues", { name: "Support" });
    const support = await inboundMailbox("support");
    const sales = await inboundMailbox("sales");
    expect(support.enabled).toBe(false);

    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await page.goto(ui.base + "/applications");
    await page.getByRole("button", { name: "New application" }).click();
    const dialog = page.getByRole("dialog", { name: "New application" });
    await dialog.getByRole("textbox", { name: "Name" }).fill("Support desk");
    // the only queue is chosen already
    expect(await dialog.getByRole("combobox", { name: "Queue" }).inputValue()).toBe(queue.id);
    await dialog.getByRole("checkbox", { name: "support" }).check();
    expect(await dialog.getByRole("checkbox", { name: "Enabled" }).isChecked()).toBe(true);
    await dialog.getByText("Saving an enabled application enables its mailboxes (support)").waitFor();

    // an acknowledgement without its subject and text: the API's words at those fields, the first one focused
    await dialog.getByRole("checkbox", { name: "Acknowledge each new email automatically" }).check();
    await dialog.getByRole("button", { name: "Create application" }).click();
    const subject = dialog.getByRole("textbox", { name: "Subject" });
    await dialog.getByText("Enter the subject of the automatic acknowledgement").waitFor();
    await dialog.getByText("Enter the text of the automatic acknowledgement").waitFor();
    await expect.poll(() => isFocused(subject)).toBe(true);
    await ui.screenshot(page, "applications-form-errors");
    expect(await applications()).toEqual([]);

    await subject.fill("We have your email");
    await dialog.getByRole("textbox", { name: "Text" }).fill("An agent will answer soon.");
    await dialog.getByRole("button", { name: "Create application" }).click();
    await dialog.waitFor({ state: "detached" });

    const row = page.getByRole("row", { name: /Support desk/ });
    await expect.poll(() => shownMailbox(page, "Support desk", "support")).toMatch(/^support Enabled/);
    expect(await row.getByRole("cell").first().textContent()).toBe("Enabled");
    const [created] = await applications();
    expect(created).toMatchObject({
      name: "Support desk",
      enabled: true,
      mailboxIds: [support.id],
      queueId: queue.id,
      autoAcknowledge: { enabled: true, subject: "We have your email", text: "An agent will answer soon." },
    });
    expect((await mailbox(support.id)).enabled).toBe(true);
    expect((await mailbox(sales.id)).enabled).toBe(false);
    await ui.screenshot(page, "applications-main");
    expect(await fitsNarrow(page)).toBe(true);
    await ui.screenshot(page, "applications-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });

    // disabling asks first and names the mailboxes it stops
    await row.getByRole("button", { name: "Disable Support desk" }).click();
    const confirm = page.getByRole("dialog", { name: "Disable Support desk?" });
    await confirm.getByText("Its mailbox support is disabled and stops collecting email.").waitFor();
    await confirm.getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => shownMailbox(page, "Support desk", "support")).toMatch(/^support Disabled/);
    expect((await mailbox(support.id)).enabled).toBe(false);
    expect((await applications())[0]!.enabled).toBe(false);
    // focus is back on the row's button, which now enables
    await expect.poll(() => isFocused(row.getByRole("button", { name: "Enable Support desk" }))).toBe(true);

    await row.getByRole("button", { name: "Enable Support desk" }).click();
    await expect.poll(() => shownMailbox(page, "Support desk", "support")).toMatch(/^support Enabled/);
    expect((await mailbox(support.id)).enabled).toBe(true);
  });

  it("edits an application's mailboxes, and deleting it disables them", async () => {
    const queue = await api<{ id: string }>("POST", "/api/v1/queues", { name: "Orders" });
    const orders = await inboundMailbox("orders");
    const returns = await inboundMailbox("returns");
    const claims = await inboundMailbox("claims");
    await api("POST", "/api/v1/applications", { name: "Orders desk", enabled: true, mailboxIds: [orders.id], queueId: queue.id });
    await api("POST", "/api/v1/applications", { name: "Claims desk", enabled: false, mailboxIds: [claims.id], queueId: queue.id });
    expect((await mailbox(orders.id)).enabled).toBe(true);

    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await page.goto(ui.base + "/applications");
    const row = page.getByRole("row", { name: /Orders desk/ });
    await row.getByRole("button", { name: "Edit Orders desk" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit Orders desk" });
    // a mailbox of another application is shown, but cannot be chosen: a mailbox feeds one application
    expect(await dialog.getByRole("checkbox", { name: "claims" }).isDisabled()).toBe(true);
    await dialog.getByText("listed by Claims desk").waitFor();
    await dialog.getByRole("checkbox", { name: "returns" }).check();
    await dialog.getByRole("checkbox", { name: "orders" }).uncheck();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => shownMailbox(page, "Orders desk", "returns")).toMatch(/^returns Enabled/);
    await expect.poll(() => page.getByRole("list", { name: "Mailboxes of Orders desk" }).getByRole("listitem").count()).toBe(1);
    expect((await mailbox(returns.id)).enabled).toBe(true);
    expect((await mailbox(orders.id)).enabled).toBe(false);

    await row.getByRole("button", { name: "Delete Orders desk" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete Orders desk?" });
    await confirm.getByRole("button", { name: "Delete application" }).click();
    await row.waitFor({ state: "detached" });
    expect((await applications()).map((a) => a.name)).not.toContain("Orders desk");
    expect((await mailbox(returns.id)).enabled).toBe(false);
  });
});
