import type { Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { field, fieldState } from "./page-checks.js";

const optionValues = (select: Locator) => select.locator("option").evaluateAll((options) => options.map((o) => o.getAttribute("value")));

// Its own Mailroom, apart from mailboxes.ui.test.ts, whose tests build on one another's mailboxes.
describe("Email Mailboxes page: how an inbound mailbox is read", () => {
  let ui: UiHarness;
  let token: string;
  const pageErrors: string[] = [];
  const mailboxNamed = async (name: string) => {
    const res = await ui.t.request({ method: "GET", url: "/api/v1/mailboxes", token });
    return res.json<{ items: { id: string; name: string; options?: unknown }[] }>().items.find((m) => m.name === name);
  };
  const signedIn = async (): Promise<Page> => {
    const page = await ui.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await ui.signIn(page, "admin", adminPassword);
    return page;
  };

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

  it("sets the reading options of the chosen protocol, shows the API's message at its field, and prefills them on edit", async () => {
    const page = await signedIn();
    await page.getByRole("button", { name: "Add Mailbox" }).click();
    await page.getByRole("menuitem", { name: "Inbound" }).click();
    const dialog = page.getByRole("dialog", { name: "Add Inbound Mailbox" });
    const reading = dialog.getByRole("group", { name: "Reading" });
    // IMAP's defaults, and no processed folder until mail is moved
    expect(await field(reading, "Folder").inputValue()).toBe("INBOX");
    expect(await field(reading, "After storing a message").inputValue()).toBe("seen");
    expect(await optionValues(field(reading, "After storing a message"))).toEqual(["seen", "move"]);
    expect(await field(reading, "Initial import").inputValue()).toBe("all");
    expect(await field(reading, "Processed folder").count()).toBe(0);

    await field(dialog, "Mailbox Name").fill("reading.imap");
    await field(dialog, "Mailbox").fill("reading@acme.test");
    await field(dialog, "Password").fill("imap-secret-1");
    await field(dialog, "Host").fill("imap.acme.test");
    await field(reading, "Folder").fill("Support");
    await field(reading, "After storing a message").selectOption("move");
    await field(reading, "Initial import").selectOption("unseen");
    await dialog.getByRole("button", { name: "Save" }).click();
    // the API's own sentence, at the field it is about
    await expect.poll(() => fieldState(reading, "Processed folder")).toEqual({
      invalid: true,
      error: "Enter the folder that processed messages are moved to (acknowledge is move)",
    });
    expect(await mailboxNamed("reading.imap")).toBeUndefined();
    await ui.screenshot(page, "mailboxes-reading-options");

    await field(reading, "Processed folder").fill("Processed");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached" });
    const saved = (await mailboxNamed("reading.imap"))!;
    expect(saved.options).toEqual({ folder: "Support", acknowledge: "move", processedFolder: "Processed", initialImport: "unseen" });
    const pane = page.getByRole("complementary", { name: "Mailbox details" });
    await expect.poll(() => pane.textContent()).toContain("Processed folderProcessed");
    expect(await pane.textContent()).toContain("Initial importOnly unread mail");

    await page.getByRole("button", { name: "Edit", exact: true }).click();
    const edit = page.getByRole("dialog", { name: "Edit Inbound Mailbox" });
    const editReading = edit.getByRole("group", { name: "Reading" });
    expect(await field(editReading, "Folder").inputValue()).toBe("Support");
    expect(await field(editReading, "After storing a message").inputValue()).toBe("move");
    expect(await field(editReading, "Processed folder").inputValue()).toBe("Processed");
    expect(await field(editReading, "Initial import").inputValue()).toBe("unseen");

    // POP3 has no folders and no read flag: Delete or Keep instead, and the first read takes everything
    await field(edit, "Type").selectOption("POP3");
    await expect.poll(() => optionValues(field(editReading, "After storing a message"))).toEqual(["delete", "keep"]);
    expect(await field(editReading, "After storing a message").inputValue()).toBe("delete");
    expect(await field(editReading, "Folder").count()).toBe(0);
    expect(await field(editReading, "Processed folder").count()).toBe(0);
    expect(await field(editReading, "Initial import").inputValue()).toBe("all");
    expect(await field(editReading, "Initial import").locator('option[value="unseen"]').isDisabled()).toBe(true);

    await field(editReading, "After storing a message").selectOption("keep");
    await field(edit, "Port").fill("995");
    await field(edit, "Password").fill("pop-secret-1");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    await expect.poll(async () => (await mailboxNamed("reading.imap"))!.options).toEqual({ acknowledge: "keep", initialImport: "all" });
    await expect.poll(() => pane.textContent()).toContain("After storingLeave it on the server");
    expect(await pane.textContent()).not.toContain("Processed folder");
  });
});
