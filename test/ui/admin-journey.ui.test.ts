import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { field } from "./page-checks.js";

/**
 * The administrator's way through the app as the reference describes it: a mailbox is created
 * disabled, an application enables it, and from then on its selection box is red and it cannot be
 * deleted; disabling the application frees it again. Each step in the browser, across pages, with one
 * page left open on the mailboxes the whole time.
 */
describe("an administrator enables a mailbox through an application", () => {
  let ui: UiHarness;
  beforeAll(async () => {
    ui = await startUi();
  });
  afterAll(async () => {
    await ui?.close();
  });

  it("creates a mailbox, enables it with an application on another page, and sees it turn red and undeletable, live", async () => {
    const admin = await ui.newPage();
    await ui.signIn(admin, "admin", adminPassword);

    // the mailbox, through the form
    await admin.goto(ui.base + "/mailboxes");
    await admin.getByRole("button", { name: "Add Mailbox" }).click();
    await admin.getByRole("menuitem", { name: /Inbound/ }).click();
    const form = admin.getByRole("dialog", { name: "Add Inbound Mailbox" });
    await field(form, "Mailbox Name").fill("orders");
    await field(form, "Mailbox").fill("orders@acme.test");
    await field(form, "Password").fill("orders-password-1");
    await field(form, "Host").fill("imap.acme.test");
    await form.getByRole("button", { name: "Save" }).click();
    await form.waitFor({ state: "detached" });
    const box = admin.getByRole("checkbox", { name: /^Select orders, / });
    await expect.poll(() => box.getAttribute("aria-label")).toBe("Select orders, disabled");

    // a second tab on the Applications page: a queue first, then the application
    const queue = await ui.t.request({ method: "POST", url: "/api/v1/queues", token: await ui.adminToken(), payload: { name: "Orders" } });
    expect(queue.statusCode).toBe(201);
    const apps = await ui.newPage();
    await ui.signIn(apps, "admin", adminPassword);
    await apps.goto(ui.base + "/applications");
    await apps.getByRole("button", { name: "New application" }).click();
    const dialog = apps.getByRole("dialog", { name: "New application" });
    await dialog.getByRole("textbox", { name: "Name" }).fill("Order desk");
    await dialog.getByRole("checkbox", { name: "orders" }).check();
    await dialog.getByRole("button", { name: "Create application" }).click();
    await dialog.waitFor({ state: "detached" });

    // the first tab, untouched, shows the mailbox enabled: red, and its Delete refused with the reason
    await expect.poll(() => box.getAttribute("aria-label")).toBe("Select orders, enabled");
    expect(await box.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).borderTopColor)).toBe("rgb(198, 40, 40)");
    await box.check();
    await admin.getByRole("button", { name: "Delete", exact: true }).click();
    const confirm = admin.getByRole("dialog", { name: "Delete orders?" });
    await confirm.getByRole("button", { name: "Delete mailbox" }).click();
    await expect.poll(() => confirm.getByRole("alert").textContent()).toContain("The mailbox is enabled");
    await confirm.getByRole("button", { name: "Close", exact: true }).last().click();
    await ui.screenshot(admin, "journey-enabled-mailbox");

    // disabling the application frees the mailbox, again without a reload
    await apps.getByRole("button", { name: /^Disable/ }).click();
    await apps.getByRole("dialog").getByRole("button", { name: /^Disable/ }).click();
    await expect.poll(() => box.getAttribute("aria-label")).toBe("Select orders, disabled");
    const mailboxes = (await ui.t.request({ method: "GET", url: "/api/v1/mailboxes", token: await ui.adminToken() })).json<{ items: { name: string; enabled: boolean }[] }>();
    expect(mailboxes.items.find((m) => m.name === "orders")?.enabled).toBe(false);
  });
});
