import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { messages } from "../../src/features/mailboxes/mailboxes.schema.js";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { freePort } from "../support/net.js";
import { accessibilityProblems, field, fieldState, layoutShift, recordLayoutShifts } from "./page-checks.js";

// The callbacks given to evaluate() run in the browser. This file is compiled for Node, without the
// DOM library, so the little of the DOM they touch is declared here, for this module alone.
interface PageElement {
  id: string;
  className: string;
  textContent: string | null;
  firstChild: { textContent: string | null } | null;
  classList: { contains(name: string): boolean };
  getAttribute(name: string): string | null;
}
declare const document: {
  activeElement: PageElement | null;
  documentElement: { scrollWidth: number };
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
};
declare const CSS: { escape(text: string): string };
declare function getComputedStyle(element: unknown): { borderTopColor: string };


interface MailboxView {
  id: string;
  name: string;
  clientType: string;
  host: string;
  enabled: boolean;
  fromAddress: string | null;
  fromAddressFolderId: string | null;
}

const valid = { invalid: false, error: null };
const invalid = (error: string) => ({ invalid: true, error });

/** The accessible name of the focused element (or its label's text), to follow where focus went. */
function focusedName(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el) return null;
    const labelled = el.getAttribute("aria-label");
    if (labelled) return labelled;
    const label = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`) : null;
    return (label?.firstChild?.textContent ?? el.textContent ?? "").trim();
  });
}

// One Mailroom for the whole file, as an administrator would meet it: the tests run in order, each
// starting from the mailboxes the ones before it created (support, smtp-client, graph.support, …).
describe("Email Mailboxes page", () => {
  let ui: UiHarness;
  let token: string;
  const api = async <T>(method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown) => {
    const res = await ui.t.request({ method, url, token, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return (res.body ? res.json() : undefined) as T;
  };
  const mailboxNamed = async (name: string) => (await api<{ items: MailboxView[] }>("GET", "/api/v1/mailboxes")).items.find((m) => m.name === name);
  // an exception in the page is a failure even when what the test looks at came out right
  const pageErrors: string[] = [];
  const signedIn = async (viewport?: { width: number; height: number }) => {
    const page = await ui.newPage(viewport);
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await ui.signIn(page, "admin", adminPassword);
    return page;
  };
  const rowNames = (page: Page) => page.locator("table.mbx-table tbody td.mbx-name").allTextContents();

  beforeAll(async () => {
    ui = await startUi();
    token = await ui.adminToken();
  });
  afterAll(async () => {
    await ui?.close();
  });
  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  it("explains the empty table, and opens Add Mailbox from the keyboard", async () => {
    const page = await signedIn();
    await page.waitForURL(/\/mailboxes$/);
    await expect.poll(() => page.getByRole("main").textContent()).toMatch(/No mailboxes yet — Add Mailbox → Inbound/);
    const add = page.getByRole("button", { name: "Add Mailbox" });
    expect(await add.getAttribute("aria-haspopup")).toBe("menu");
    await add.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("menu").waitFor();
    expect(await add.getAttribute("aria-expanded")).toBe("true");
    await expect.poll(() => focusedName(page)).toBe("Inbound");
    await page.keyboard.press("ArrowDown");
    await expect.poll(() => focusedName(page)).toBe("Outbound");
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.keyboard.press("Escape");
    await page.getByRole("menu").waitFor({ state: "detached" });
    await expect.poll(() => focusedName(page)).toMatch(/^Add Mailbox/);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "Add Inbound Mailbox" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await expect.poll(() => focusedName(page)).toMatch(/^Add Mailbox/);
  });

  it("creates an inbound IMAP mailbox, showing each of the API's validation messages at its field", async () => {
    const page = await signedIn();
    await page.getByRole("button", { name: "Add Mailbox" }).click();
    await page.getByRole("menuitem", { name: "Inbound" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Inbound Mailbox" });
    await field(dialog, "Mailbox Name").fill("bad name!");
    await field(dialog, "Max size (MB)").fill("3");
    await field(dialog, "Mailbox").fill("support@acme.test");
    await field(dialog, "Host").fill("imap://imap.acme.test");
    expect(await field(dialog, "Port").inputValue()).toBe("993");
    await dialog.getByRole("button", { name: "Save" }).click();

    await expect.poll(() => fieldState(dialog, "Mailbox Name")).toEqual(invalid(messages.name));
    expect(await fieldState(dialog, "Max size (MB)")).toEqual(invalid(messages.maxSizeMb));
    expect(await fieldState(dialog, "Host")).toEqual(invalid(messages.host));
    expect(await fieldState(dialog, "Mailbox")).toEqual(valid);
    // focus is on the first field the API refused
    await expect.poll(() => focusedName(page)).toBe("Mailbox Name");
    await ui.screenshot(page, "mailboxes-inbound-form-errors");
    expect(await accessibilityProblems(page)).toEqual([]);

    await field(dialog, "Mailbox Name").fill("support");
    await field(dialog, "Max size (MB)").fill("25");
    await field(dialog, "Host").fill("imap.acme.test");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => fieldState(dialog, "Mailbox Name")).toEqual(valid);
    expect(await fieldState(dialog, "Max size (MB)")).toEqual(invalid(messages.maxSizeMb));
    expect(await fieldState(dialog, "Host")).toEqual(valid);
    await expect.poll(() => focusedName(page)).toBe("Max size (MB)");

    // the password is checked once everything else is right
    await field(dialog, "Max size (MB)").fill("5");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => fieldState(dialog, "Password")).toEqual(invalid("Enter the mailbox password"));
    expect(await fieldState(dialog, "Max size (MB)")).toEqual(valid);

    // OAuth 2.0 without the Azure app's ids
    await field(dialog, "Authentication method").selectOption("oauth2");
    expect(await field(dialog, "Tenant authority").inputValue()).toBe("https://login.microsoftonline.com/");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => fieldState(dialog, "Application (client) ID")).toEqual(invalid("Enter the Application (client) ID of the Azure app"));
    expect(await fieldState(dialog, "Directory (tenant) ID")).toEqual(invalid("Enter the Directory (tenant) ID of the Azure app"));
    await expect.poll(() => focusedName(page)).toBe("Application (client) ID");

    await field(dialog, "Authentication method").selectOption("password");
    await field(dialog, "Password").fill("imap-secret-1");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });

    const saved = await mailboxNamed("support");
    expect(saved).toMatchObject({ clientType: "inbound", host: "imap.acme.test", enabled: false });
    await page.waitForURL(new RegExp(`/mailboxes/${saved!.id}$`));
    await expect.poll(() => rowNames(page)).toEqual(["support"]);
    await expect.poll(() => page.getByRole("complementary", { name: "Mailbox details" }).getByRole("heading", { level: 2 }).textContent()).toBe("support");
    await ui.screenshot(page, "mailboxes-table-details");
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it("creates the outbound SMTP mailbox with its From addresses, managed in a business-attribute folder", async () => {
    const page = await signedIn();
    await page.getByRole("button", { name: "Add Mailbox" }).click();
    await page.getByRole("menuitem", { name: "Outbound" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Outbound Mailbox" });
    const name = field(dialog, "Mailbox Name");
    expect(await name.inputValue()).toBe("smtp-client");
    expect(await name.getAttribute("readonly")).not.toBeNull();
    expect(await field(dialog, "Type").inputValue()).toBe("SMTP");
    expect(await field(dialog, "Port").inputValue()).toBe("587");

    // the drop-down's last item opens Manage Email Addresses
    const from = field(dialog, "From Address");
    expect((await from.locator("option").allTextContents()).at(-1)).toBe("Add…");
    await from.selectOption({ label: "Add…" });
    const manage = page.getByRole("dialog", { name: "Manage Email Addresses" });
    await field(manage, "New folder name").fill("Support addresses");
    await manage.getByRole("button", { name: "Create folder" }).click();
    const folderSelect = field(manage, "Business attribute folder");
    await expect.poll(async () => folderSelect.locator("option:checked").textContent()).toBe("Support addresses");
    const folder = (await api<{ items: { id: string; name: string }[] }>("GET", "/api/v1/business-attributes")).items.find((f) => f.name === "Support addresses");
    expect(folder).toBeDefined();

    // the API refuses an address that is not one, in its own words, at the field
    await field(manage, "Name").fill("not-an-address");
    await field(manage, "Display name").fill("Nobody");
    await manage.getByRole("button", { name: "Add address" }).click();
    await expect.poll(() => fieldState(manage, "Name")).toEqual(invalid("Enter an email address such as support@example.com"));

    const addresses = manage.getByRole("table", { name: "Addresses in this folder" });
    const listed = () => addresses.locator("tbody tr td:first-child").allTextContents();
    for (const [address, display] of [
      ["support@acme.test", "Acme Support"],
      ["sales@acme.test", "Acme Sales"],
    ]) {
      await field(manage, "Name").fill(address!);
      await field(manage, "Display name").fill(display!);
      await manage.getByRole("button", { name: "Add address" }).click();
      await expect.poll(listed).toContain(address);
    }
    expect(await fieldState(manage, "Name")).toEqual(valid);
    // deleting asks first
    await manage.getByRole("button", { name: "Delete sales@acme.test" }).click();
    const confirm = manage.getByRole("group", { name: "Confirm deleting sales@acme.test" });
    expect(await listed()).toContain("sales@acme.test");
    await ui.screenshot(page, "mailboxes-manage-email-addresses");
    expect(await accessibilityProblems(page)).toEqual([]);
    await confirm.getByRole("button", { name: "Yes, delete" }).click();
    await expect.poll(listed).toEqual(["support@acme.test"]);
    const values = await api<{ items: { name: string }[] }>("GET", `/api/v1/business-attributes/${folder!.id}/values`);
    expect(values.items.map((v) => v.name)).toEqual(["support@acme.test"]);

    await manage.getByRole("button", { name: "Use this folder" }).click();
    await manage.waitFor({ state: "detached" });
    // back where Add… was chosen
    await expect.poll(() => focusedName(page)).toBe("From Address");
    await expect.poll(() => from.locator("option").allTextContents()).toContain("Acme Support <support@acme.test>");
    await from.selectOption("support@acme.test");
    await field(dialog, "Mailbox").fill("agents@acme.test");
    await field(dialog, "Password").fill("smtp-secret-1");
    await field(dialog, "Host").fill("smtp.acme.test");
    await ui.screenshot(page, "mailboxes-outbound-form");
    expect(await accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });

    const saved = await mailboxNamed("smtp-client");
    expect(saved).toMatchObject({ clientType: "outbound", fromAddress: "support@acme.test", fromAddressFolderId: folder!.id, host: "smtp.acme.test" });
    await page.waitForURL(new RegExp(`/mailboxes/${saved!.id}$`));
    const pane = page.getByRole("complementary", { name: "Mailbox details" });
    await expect.poll(() => pane.textContent()).toContain("Support addresses");
    await expect.poll(() => rowNames(page)).toEqual(expect.arrayContaining(["support", "smtp-client"]));
  });

  it("disables Outbound in the Add Mailbox menu once the outbound mailbox exists, and says why", async () => {
    const page = await signedIn();
    // the menu knows of the outbound mailbox once the list has loaded, as the user sees it there
    await expect.poll(() => rowNames(page)).toContain("smtp-client");
    await page.getByRole("button", { name: "Add Mailbox" }).click();
    const outbound = page.getByRole("menuitem", { name: "Outbound" });
    await outbound.waitFor();
    expect(await outbound.getAttribute("aria-disabled")).toBe("true");
    const reason = await outbound.evaluate((el) => document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent ?? "");
    expect(reason).toMatch(/^Only one outbound mailbox is permitted/);
    expect(await page.getByText(reason).isVisible()).toBe(true);
    expect(await accessibilityProblems(page)).toEqual([]);
    // neither a click nor the keyboard chooses it; the menu stays, so the reason can still be read
    await outbound.click({ force: true });
    await page.keyboard.press("End");
    await expect.poll(() => focusedName(page)).toBe("Outbound");
    await page.keyboard.press("Enter");
    expect(await page.getByRole("dialog").count()).toBe(0);
    expect(await page.getByRole("menu").count()).toBe(1);
    expect(await page.getByRole("menuitem", { name: "Inbound" }).getAttribute("aria-disabled")).toBeNull();
    await page.keyboard.press("Escape");
    await page.getByRole("menu").waitFor({ state: "detached" });
  });

  it("keeps the name read-only on edit and asks for the password again when the host changes", async () => {
    const page = await signedIn();
    const support = (await mailboxNamed("support"))!;
    await page.getByRole("checkbox", { name: "Select support, disabled" }).check();
    await page.waitForURL(new RegExp(`/mailboxes/${support.id}$`));
    const edit = page.getByRole("button", { name: "Edit", exact: true });
    await edit.click();
    const dialog = page.getByRole("dialog", { name: "Edit Inbound Mailbox" });
    const name = field(dialog, "Mailbox Name");
    expect(await name.inputValue()).toBe("support");
    expect(await name.getAttribute("readonly")).not.toBeNull();
    // secrets are never shown, only whether one is set
    expect(await field(dialog, "Password").inputValue()).toBe("");
    expect(await dialog.textContent()).toContain("A password is set");

    await field(dialog, "Host").fill("imap2.acme.test");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => fieldState(dialog, "Password")).toEqual(invalid(expect.stringMatching(/^Type the password again/)));
    await expect.poll(() => focusedName(page)).toBe("Password");
    expect((await mailboxNamed("support"))!.host).toBe("imap.acme.test");

    await field(dialog, "Password").fill("imap-secret-2");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(async () => (await mailboxNamed("support"))!.host).toBe("imap2.acme.test");
    await expect.poll(() => focusedName(page)).toBe("Edit");

    // the selection is in the address: a reload keeps it
    await page.reload();
    const pane = page.getByRole("complementary", { name: "Mailbox details" });
    await expect.poll(() => pane.getByRole("heading", { level: 2 }).textContent()).toBe("support");
    await expect.poll(() => pane.textContent()).toContain("imap2.acme.test:993");
  });

  it("adds a Microsoft Graph mailbox with OAuth 2.0 client credentials, whose secret is write-only and whose expiry is shown", async () => {
    const page = await signedIn();
    await page.getByRole("button", { name: "Add Mailbox" }).click();
    await page.getByRole("menuitem", { name: "Inbound" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Inbound Mailbox" });
    await field(dialog, "Type").selectOption("GRAPH");
    // Graph's defaults and the sign-in it needs
    expect(await field(dialog, "Host").inputValue()).toBe("graph.microsoft.com");
    expect(await field(dialog, "Port").inputValue()).toBe("443");
    expect(await field(dialog, "Authentication method").inputValue()).toBe("oauth2");
    expect(await field(dialog, "Grant").inputValue()).toBe("client_credentials");
    expect(await field(dialog, "Authentication method").locator('option[value="password"]').isDisabled()).toBe(true);
    expect(await field(dialog, "Password").count()).toBe(0);
    expect(await field(dialog, "Tenant authority").inputValue()).toBe("https://login.microsoftonline.com/");

    await field(dialog, "Mailbox Name").fill("support");
    await field(dialog, "Mailbox").fill("graph@acme.test");
    await field(dialog, "Application (client) ID").fill("11111111-2222-3333-4444-555555555555");
    await field(dialog, "Directory (tenant) ID").fill("acme.onmicrosoft.com");
    await field(dialog, "Client secret").fill("graph-client-secret-1");
    const expiry = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    await field(dialog, "Secret expiry date").fill(expiry);
    await field(dialog, "Test mailbox").check();
    await dialog.getByRole("button", { name: "Save" }).click();
    // the name is taken: the API's whole sentence, at the field
    await expect.poll(() => fieldState(dialog, "Mailbox Name")).toEqual(invalid('A mailbox named "support" already exists.'));

    await field(dialog, "Mailbox Name").fill("graph.support");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    const saved = (await api<{ items: (MailboxView & { auth: Record<string, unknown>; clientSecretSet: boolean; testMailbox: boolean })[] }>("GET", "/api/v1/mailboxes")).items.find(
      (m) => m.name === "graph.support",
    )!;
    expect(saved.auth).toMatchObject({ method: "oauth2", grant: "client_credentials", clientId: "11111111-2222-3333-4444-555555555555", secretExpiresAt: expiry });
    expect(saved).toMatchObject({ host: "graph.microsoft.com", clientSecretSet: true, testMailbox: true });

    const pane = page.getByRole("complementary", { name: "Mailbox details" });
    await expect.poll(() => pane.getByRole("heading", { level: 2 }).textContent()).toBe("graph.support");
    const text = (await pane.textContent())!;
    expect(text).toMatch(/Client secretSet/);
    expect(text).toMatch(/Expires in (9|10) days/);
    expect(text).toContain("Test mailbox");
    expect(text).not.toContain("graph-client-secret-1");

    await page.getByRole("button", { name: "Edit", exact: true }).click();
    const edit = page.getByRole("dialog", { name: "Edit Inbound Mailbox" });
    expect(await field(edit, "Client secret").inputValue()).toBe("");
    expect(await edit.textContent()).toContain("A client secret is set.");
    expect(await field(edit, "Secret expiry date").inputValue()).toBe(expiry);
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(await page.content()).not.toContain("graph-client-secret-1");
    await edit.getByRole("button", { name: "Cancel" }).click();
    await edit.waitFor({ state: "detached" });
    await expect.poll(() => focusedName(page)).toBe("Edit");
  });

  it("marks a mailbox that an application enables with a red box, and shows why Delete is refused", async () => {
    const page = await signedIn();
    const support = (await mailboxNamed("support"))!;
    await page.goto(`${ui.base}/mailboxes/${support.id}`);
    const box = page.getByRole("checkbox", { name: /^Select support, (enabled|disabled)$/ });
    await box.waitFor();
    expect(await box.getAttribute("aria-label")).toBe("Select support, disabled");
    expect(await box.getAttribute("class")).not.toContain("mbx-enabled");

    const queue = await api<{ id: string }>("POST", "/api/v1/queues", { name: "Support" });
    await api("POST", "/api/v1/applications", { name: "Support mail", enabled: true, mailboxIds: [support.id], queueId: queue.id });
    expect((await mailboxNamed("support"))!.enabled).toBe(true);
    // no runner runs here: the page hears mailboxes.changed, which the application's change published, and reads the mailboxes again

    const enabledBox = page.getByRole("checkbox", { name: "Select support, enabled" });
    await enabledBox.waitFor();
    expect(await enabledBox.getAttribute("class")).toContain("mbx-enabled");
    expect(await enabledBox.getAttribute("data-enabled")).toBe("true");
    expect(await enabledBox.evaluate((el) => getComputedStyle(el).borderTopColor)).toBe("rgb(198, 40, 40)");
    // the outbound mailbox is enabled while any application is
    await page.getByRole("checkbox", { name: "Select smtp-client, enabled" }).waitFor();

    // before clicking: the Delete button is described by why it will not work
    const del = page.getByRole("button", { name: "Delete", exact: true });
    const hint = await del.evaluate((el) => document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent ?? "");
    expect(hint).toContain("enabled mailboxes cannot be deleted");
    const pane = page.getByRole("complementary", { name: "Mailbox details" });
    expect(await pane.textContent()).toContain("Enabled mailboxes cannot be deleted.");

    await del.click();
    const confirm = page.getByRole("dialog", { name: "Delete support?" });
    expect(await confirm.textContent()).toContain("enabled mailboxes cannot be deleted");
    await confirm.getByRole("button", { name: "Delete mailbox" }).click();
    await expect
      .poll(() => confirm.getByRole("alert").textContent())
      .toContain("The mailbox is enabled: disable its application, or remove the mailbox from it, first.");
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(await mailboxNamed("support")).toBeDefined();
    await confirm.getByRole("button", { name: "Close", exact: true }).last().click();
    await confirm.waitFor({ state: "detached" });
    await expect.poll(() => focusedName(page)).toBe("Delete");

    // the status as the runner reports it, live
    await ui.t.app.services.mailboxes.setStatus(support.id, {
      state: "error",
      code: "auth_failed",
      message: "The server refused the login for support@acme.test: [AUTHENTICATIONFAILED] Authentication failed.",
      lastSyncAt: new Date().toISOString(),
    });
    await ui.t.app.services.mailboxes.recordWarning(support.id, "message_skipped", "A message of 31 MB was set aside: it is larger than the mailbox's max size.");
    ui.t.app.events.publish({ type: "mailbox.status", mailboxId: support.id, state: "error", code: "auth_failed", message: null });
    const status = pane.getByRole("region", { name: "Connection status" });
    await expect.poll(() => status.locator("[data-state]").getAttribute("data-state")).toBe("error");
    expect(await status.textContent()).toContain("auth_failed");
    expect(await status.textContent()).toContain("[AUTHENTICATIONFAILED] Authentication failed.");
    expect(await status.locator("time").count()).toBeGreaterThan(0);
    expect(await status.textContent()).toContain("A message of 31 MB was set aside");
    await ui.screenshot(page, "mailboxes-enabled-refused");
    expect(await accessibilityProblems(page)).toEqual([]);

    // warnings stay until the administrator clears them
    await status.getByRole("button", { name: "Clear warnings" }).click();
    await expect.poll(() => status.textContent()).not.toContain("A message of 31 MB was set aside");
    expect((await api<{ status: { warnings: unknown[] } }>("GET", `/api/v1/mailboxes/${support.id}`)).status.warnings).toEqual([]);
  });

  it("narrows the table with the Show filter and the API's search", async () => {
    await api("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: "sales.pop",
      type: "POP3",
      mailbox: "sales",
      password: "pop-secret-1",
      host: "pop.example.org",
      port: 995,
    });
    const page = await signedIn();
    const searched: string[] = [];
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname === "/api/v1/mailboxes" && url.searchParams.has("q")) searched.push(url.searchParams.get("q")!);
    });
    await page.goto(`${ui.base}/mailboxes`);
    await expect.poll(async () => (await rowNames(page)).sort()).toEqual(["graph.support", "sales.pop", "smtp-client", "support"]);

    const show = page.getByLabel("Show");
    await show.selectOption("outbound");
    await expect.poll(() => rowNames(page)).toEqual(["smtp-client"]);
    expect(new URL(page.url()).searchParams.get("show")).toBe("outbound");
    await show.selectOption("inbound");
    await expect.poll(async () => (await rowNames(page)).sort()).toEqual(["graph.support", "sales.pop", "support"]);
    // the table's columns as the reference has them
    expect(await page.locator("table.mbx-table thead th").allTextContents()).toEqual(["Selected", "Mailbox Name", "Mailbox", "Host", "Mailbox Type", "Client Type"]);
    expect(await page.locator("table.mbx-table tbody tr", { hasText: "sales.pop" }).locator("td").allTextContents()).toEqual([
      "",
      "sales.pop",
      "sales",
      "pop.example.org",
      "POP3",
      "Inbound",
    ]);

    await show.selectOption("all");
    const search = page.getByRole("searchbox", { name: "Search mailboxes" });
    await search.fill("example.org");
    await expect.poll(() => rowNames(page)).toEqual(["sales.pop"]);
    expect(searched).toContain("example.org");
    await search.fill("nothing-like-this");
    await expect.poll(() => page.getByRole("main").textContent()).toContain("No mailboxes match “nothing-like-this”.");
    await page.getByRole("button", { name: "Clear the search" }).click();
    await expect.poll(async () => (await rowNames(page)).sort()).toEqual(["graph.support", "sales.pop", "smtp-client", "support"]);
    expect(await search.inputValue()).toBe("");
  });

  it("deletes a disabled mailbox once the administrator confirms", async () => {
    const created = await api<{ id: string }>("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: "old.box",
      type: "POP3",
      mailbox: "old",
      password: "pop-secret-2",
      host: "pop.example.org",
      port: 995,
    });
    const page = await signedIn();
    await page.goto(`${ui.base}/mailboxes/${created.id}`);
    await page.getByRole("checkbox", { name: "Select old.box, disabled" }).waitFor();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const confirm = page.getByRole("dialog", { name: "Delete old.box?" });
    expect(await confirm.textContent()).toContain("this cannot be undone");
    // Cancel keeps it
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    expect(await mailboxNamed("old.box")).toBeDefined();

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await confirm.getByRole("button", { name: "Delete mailbox" }).click();
    await confirm.waitFor({ state: "detached" });
    await page.waitForURL(/\/mailboxes$/);
    await expect.poll(() => rowNames(page)).not.toContain("old.box");
    expect(await mailboxNamed("old.box")).toBeUndefined();
    // Delete has nothing to act on now: focus goes to Add Mailbox
    await expect.poll(() => focusedName(page)).toMatch(/^Add Mailbox/);
  });

  it("tests the connection and lists each step, busy while it runs, in the pane and in the edit form", async () => {
    const closedPort = await freePort();
    const created = await api<{ id: string }>("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: "closed.port",
      type: "IMAP",
      mailbox: "nobody",
      password: "imap-secret-3",
      host: "127.0.0.1",
      port: closedPort,
    });
    const page = await signedIn();
    // the test answers at once from a closed port: held here until the busy state has been seen
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/api/v1/mailboxes/*/test", async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${ui.base}/mailboxes/${created.id}`);
    const pane = page.getByRole("complementary", { name: "Mailbox details" });
    await pane.getByRole("button", { name: "Test connection" }).click();
    const busy = pane.getByRole("button", { name: "Testing connection…" });
    await busy.waitFor();
    expect(await busy.isDisabled()).toBe(true);
    release();

    const steps = pane.getByRole("list", { name: "Connection test steps" });
    await steps.waitFor();
    const first = steps.getByRole("listitem").first();
    expect(await first.locator(".mbx-test-step-name").textContent()).toBe("Connect");
    expect(await first.locator(".badge").textContent()).toBe("Failed");
    expect(await first.textContent()).toMatch(/\d+ ms/);
    expect(await first.locator(".mbx-test-step-message").textContent()).toContain("connection refused");
    expect(await pane.textContent()).toContain("The connection failed at “Connect”.");
    await pane.getByRole("button", { name: "Test connection" }).waitFor();
    await ui.screenshot(page, "mailboxes-test-connection");
    expect(await accessibilityProblems(page)).toEqual([]);

    await page.getByRole("button", { name: "Edit", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Edit Inbound Mailbox" });
    await dialog.getByRole("button", { name: "Test connection" }).click();
    const inForm = dialog.getByRole("list", { name: "Connection test steps" });
    await inForm.waitFor();
    expect(await inForm.getByRole("listitem").first().textContent()).toContain("connection refused");

    // an answer about no field goes to the top of the form, and focus goes there
    await api("DELETE", `/api/v1/mailboxes/${created.id}`);
    await field(dialog, "Max size (MB)").fill("6");
    await dialog.getByRole("button", { name: "Save" }).click();
    const notice = dialog.locator(".mbx-form-notice");
    await expect.poll(() => notice.getByRole("alert").textContent()).toBe("The mailbox was not found.");
    await expect.poll(() => page.evaluate(() => document.activeElement?.className)).toBe("mbx-form-notice");
  });

  it("stacks the details under the table on a narrow screen, keeps them beside it at 1280×800, and nothing jumps as data arrives", async () => {
    const support = await api<{ id: string }>("POST", "/api/v1/mailboxes", {
      clientType: "inbound",
      name: "layout.check",
      type: "IMAP",
      mailbox: "layout@acme.test",
      password: "imap-secret-4",
      host: "imap.acme.test",
      port: 993,
    });
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 390, height: 844 },
    ]) {
      const page = await signedIn(viewport);
      await recordLayoutShifts(page);
      await page.goto(`${ui.base}/mailboxes/${support.id}`);
      const pane = page.getByRole("complementary", { name: "Mailbox details" });
      await expect.poll(() => pane.getByRole("heading", { level: 2 }).textContent()).toBe("layout.check");
      await expect.poll(() => rowNames(page)).toContain("layout.check");
      await expect.poll(() => page.locator("[aria-busy='true']").count()).toBe(0);
      const shifted = await layoutShift(page);
      // well under the 0.1 that the Layout Instability API's authors call good: the details pane under a
      // table that fills after it would score about 0.08 here
      expect(shifted).toBeLessThan(0.02);

      const table = (await page.locator(".mbx-list").boundingBox())!;
      const details = (await pane.boundingBox())!;
      if (viewport.width === 1280) {
        expect(details.x).toBeGreaterThanOrEqual(table.x + table.width);
      } else {
        expect(details.y).toBeGreaterThanOrEqual(table.y + table.height);
        // nothing sticks out sideways
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
        await ui.screenshot(page, "mailboxes-narrow");
        expect(await accessibilityProblems(page)).toEqual([]);
      }
    }
  });
});
