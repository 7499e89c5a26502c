import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { fitsNarrow } from "./page-checks.js";

interface UserView {
  id: string;
  username: string;
  role: string;
  displayName: string | null;
  disabled: boolean;
}

describe("users and account pages", () => {
  let ui: UiHarness;
  const user = async (username: string): Promise<UserView> => {
    const res = await ui.t.request({ method: "GET", url: "/api/v1/users", token: await ui.adminToken() });
    return res.json<{ items: UserView[] }>().items.find((u) => u.username === username)!;
  };
  const signInStatus = async (username: string, password: string) =>
    (await ui.t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } })).statusCode;
  const isFocused = (field: Locator) => field.evaluate((el) => el === el.ownerDocument.activeElement);
  /** the message shown under a field, which its input names as its description */
  const fieldError = (field: Locator) =>
    field.evaluate((el) => {
      const ids = (el.getAttribute("aria-describedby") ?? "").split(" ").filter((id: string) => id.endsWith("-error"));
      return ids.map((id: string) => el.ownerDocument.getElementById(id)?.textContent ?? "").join(" ");
    });
  const openUsers = async (page: Page) => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
    await page.getByRole("rowheader", { name: /^admin/ }).waitFor();
  };

  beforeAll(async () => {
    ui = await startUi();
  });
  afterAll(async () => {
    await ui?.close();
  });

  it("creates a user, showing the API's refusals at their fields and a taken name in the API's words", async () => {
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await openUsers(page);
    await page.getByRole("button", { name: "New user" }).click();
    const dialog = page.getByRole("dialog", { name: "New user" });
    const username = dialog.getByRole("textbox", { name: "Username" });
    const password = dialog.getByLabel(/^Password/);
    const again = dialog.getByLabel("Type the password again");
    // focus starts in the first field
    await expect.poll(() => isFocused(username)).toBe(true);

    await username.fill("carol jones");
    await password.fill("short");
    await again.fill("short");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await expect.poll(() => fieldError(username)).toBe("Username may use letters, digits, @ _ . - and at most 64 characters");
    expect(await fieldError(password)).toBe("Password must have at least 8 characters");
    await expect.poll(() => isFocused(username)).toBe(true);
    await ui.screenshot(page, "users-create-errors");

    // the two copies differ: the browser says so before asking the API
    await username.fill("carol");
    await password.fill("carol-password-1");
    await again.fill("carol-password-2");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await expect.poll(() => fieldError(again)).toMatch(/not the same/);
    await expect.poll(() => isFocused(again)).toBe(true);
    expect(await user("carol")).toBeUndefined();

    await again.fill("carol-password-1");
    await dialog.getByLabel("Display name").fill("Carol Jones");
    await dialog.getByRole("combobox", { name: "Role" }).selectOption("agent");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await dialog.waitFor({ state: "detached" });
    const row = page.getByRole("row", { name: /carol/ });
    await row.getByText("Carol Jones").waitFor();
    expect(await row.getByRole("cell").allTextContents()).toEqual(["Carol Jones", "Agent", "Enabled", "Never", expect.any(String)]);
    expect(await user("carol")).toMatchObject({ role: "agent", displayName: "Carol Jones", disabled: false });
    expect(await signInStatus("carol", "carol-password-1")).toBe(200);
    await ui.screenshot(page, "users-main");
    expect(await fitsNarrow(page)).toBe(true);
    await ui.screenshot(page, "users-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });

    // the same name again: refused, in the API's words
    await page.getByRole("button", { name: "New user" }).click();
    await dialog.getByRole("textbox", { name: "Username" }).fill("carol");
    await password.fill("another-password-1");
    await again.fill("another-password-1");
    await dialog.getByRole("button", { name: "Create user" }).click();
    await dialog.getByRole("alert").filter({ hasText: 'A user named "carol" already exists.' }).waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    // focus goes back to the button that opened the dialog
    await expect.poll(() => isFocused(page.getByRole("button", { name: "New user" }))).toBe(true);
  });

  it("changes a user's role, disables them (their open page goes back to sign-in), enables them, and sets a password they sign in with", async () => {
    const oldPassword = await ui.createUser("dave", "agent");
    const daves = await ui.newPage();
    await ui.signIn(daves, "dave", oldPassword);

    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await openUsers(page);
    const row = page.getByRole("row", { name: /dave/ });

    await row.getByRole("button", { name: "Edit dave" }).click();
    const edit = page.getByRole("dialog", { name: "Edit dave" });
    // focus starts in the first field that can change, not on the username
    await expect.poll(() => isFocused(edit.getByRole("textbox", { name: "Display name" }))).toBe(true);
    await edit.getByRole("combobox", { name: "Role" }).selectOption("supervisor");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    await row.getByText("Supervisor").waitFor();
    expect((await user("dave")).role).toBe("supervisor");

    // disabling asks first, then ends dave's session: his page returns to the sign-in form
    await row.getByRole("button", { name: "Disable dave" }).click();
    const confirm = page.getByRole("dialog", { name: "Disable dave?" });
    await confirm.getByText("signed out at once").waitFor();
    await confirm.getByRole("button", { name: "Disable" }).click();
    await row.getByText("Disabled").waitFor();
    expect((await user("dave")).disabled).toBe(true);
    await daves.getByRole("button", { name: "Sign in" }).waitFor();
    await expect.poll(() => daves.textContent("body")).toMatch(/session has ended/);
    expect(await signInStatus("dave", oldPassword)).toBe(401);

    await row.getByRole("button", { name: "Enable dave" }).click();
    await row.getByText("Enabled").waitFor();
    expect((await user("dave")).disabled).toBe(false);

    await row.getByRole("button", { name: "Set password for dave" }).click();
    const reset = page.getByRole("dialog", { name: "Set a new password for dave" });
    await reset.getByLabel(/^New password/).fill("dave-new-password-1");
    await reset.getByLabel("Type the new password again").fill("dave-new-password-1");
    await reset.getByRole("button", { name: "Set password" }).click();
    await reset.waitFor({ state: "detached" });
    await page.getByRole("status").filter({ hasText: "The new password of dave is set" }).waitFor();

    await ui.signIn(daves, "dave", "dave-new-password-1");
    await daves.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Supervisor" }).waitFor();
    expect(await signInStatus("dave", oldPassword)).toBe(401);
  });

  it("shows the API's refusal to demote or disable the last admin, and changes nothing", async () => {
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await openUsers(page);
    const row = page.getByRole("row", { name: /^admin/ });
    await row.getByText("(you)").waitFor();

    await row.getByRole("button", { name: "Edit admin" }).click();
    const edit = page.getByRole("dialog", { name: "Edit admin" });
    await edit.getByRole("combobox", { name: "Role" }).selectOption("agent");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit
      .getByRole("alert")
      .filter({ hasText: '"admin" is the last enabled admin and cannot be given another role: make another user an admin first.' })
      .waitFor();
    await ui.screenshot(page, "users-last-admin");
    await edit.getByRole("button", { name: "Cancel" }).click();

    await row.getByRole("button", { name: "Disable admin" }).click();
    const confirm = page.getByRole("dialog", { name: "Disable admin?" });
    await confirm.getByText("This is you").waitFor();
    await confirm.getByRole("button", { name: "Disable" }).click();
    await confirm.getByRole("alert").filter({ hasText: '"admin" is the last enabled admin and cannot be disabled' }).waitFor();
    await confirm.getByRole("button", { name: "Cancel" }).click();

    expect(await user("admin")).toMatchObject({ role: "admin", disabled: false });
  });

  it("lets an agent change their own password: a wrong current password is refused at its field, two different copies in the browser", async () => {
    const oldPassword = await ui.createUser("erin", "agent");
    const page = await ui.newPage();
    await ui.signIn(page, "erin", oldPassword);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
    const you = page.locator("dl.details");
    await you.getByText("erin").waitFor();
    await you.getByText("Agent").waitFor();

    const form = page.getByRole("form", { name: "Change your password" });
    const current = form.getByLabel("Current password");
    const fresh = form.getByLabel(/^New password/);
    const again = form.getByLabel("Type the new password again");
    const change = form.getByRole("button", { name: "Change password" });

    await current.fill("not-my-password");
    await fresh.fill("erin-new-password-1");
    await again.fill("erin-new-password-1");
    await change.click();
    await expect.poll(() => fieldError(current)).toBe("The current password is not right");
    await expect.poll(() => isFocused(current)).toBe(true);
    await ui.screenshot(page, "account-wrong-password");

    await current.fill(oldPassword);
    await again.fill("erin-new-password-2");
    await change.click();
    await expect.poll(() => fieldError(again)).toMatch(/not the same/);
    expect(await signInStatus("erin", oldPassword)).toBe(200);

    await again.fill("erin-new-password-1");
    await change.click();
    await form.getByRole("status").filter({ hasText: "Your password is changed" }).waitFor();
    expect(await current.inputValue()).toBe("");
    await ui.screenshot(page, "account-main");
    expect(await fitsNarrow(page)).toBe(true);
    await ui.screenshot(page, "account-narrow");

    const elsewhere = await ui.newPage();
    await ui.signIn(elsewhere, "erin", "erin-new-password-1");
    await elsewhere.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Workspace" }).waitFor();
    expect(await signInStatus("erin", oldPassword)).toBe(401);
  });
});
