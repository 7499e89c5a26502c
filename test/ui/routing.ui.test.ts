import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { fitsNarrow } from "./page-checks.js";

interface RouteView {
  id: string;
  pattern: string;
  queueId: string;
  priority: number;
}

describe("routing page: queues and their agents, routes by priority, Route to Multiple Destinations", () => {
  let ui: UiHarness;
  let token: string;
  const api = async <T>(method: "GET" | "POST" | "PUT", url: string, payload?: unknown): Promise<T> => {
    const res = await ui.t.request({ method, url, token, ...(payload === undefined ? {} : { payload: payload as object }) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json<T>();
  };
  const queueId = async (name: string) => (await api<{ items: { id: string; name: string }[] }>("GET", "/api/v1/queues")).items.find((q) => q.name === name)!.id;
  /** the patterns of the routes table, top to bottom */
  const shownRoutes = (page: Page) => page.getByRole("region", { name: "Routes" }).locator("tbody th[scope=row]").allTextContents();
  const isFocused = (field: Locator) => field.evaluate((el) => el === el.ownerDocument.activeElement);

  beforeAll(async () => {
    ui = await startUi();
    token = await ui.adminToken();
  });
  afterAll(async () => {
    await ui?.close();
  });

  it("lets an admin create queues and routes with priorities, shows them in the order they win, and edits and deletes them", async () => {
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Routing" }).click();
    const queues = page.getByRole("region", { name: "Queues" });
    const routes = page.getByRole("region", { name: "Routes" });
    // nothing to route to yet: the route form waits for a queue
    await routes.getByText("Create a queue first").waitFor();

    // an empty name is refused in the API's words, at the field, which takes the focus
    await queues.getByRole("button", { name: "Create queue" }).click();
    await queues.getByText("Enter a queue name").waitFor();
    await expect.poll(() => isFocused(queues.getByRole("textbox", { name: "New queue" }))).toBe(true);
    for (const name of ["Support", "Billing"]) {
      await queues.getByLabel("New queue").fill(name);
      await queues.getByRole("button", { name: "Create queue" }).click();
      await queues.getByRole("rowheader", { name }).waitFor();
    }
    expect((await api<{ items: { name: string }[] }>("GET", "/api/v1/queues")).items.map((q) => q.name).sort()).toEqual(["Billing", "Support"]);

    const addRoute = async (pattern: string, queue: string, priority: string) => {
      await routes.getByLabel("Address or domain").fill(pattern);
      await routes.getByLabel("Queue").selectOption({ label: queue });
      await routes.getByLabel("Priority").fill(priority);
      await routes.getByRole("button", { name: "Add route" }).click();
    };
    // a pattern that is neither an address nor a domain: the API's words at the field
    await addRoute("not an address", "Support", "1");
    await routes.getByText("Enter an address (support@acme.test) or a domain starting with @ (@acme.test)").waitFor();
    await expect.poll(() => isFocused(routes.getByRole("textbox", { name: "Address or domain" }))).toBe(true);

    await addRoute("support@acme.test", "Support", "20");
    await routes.getByRole("rowheader", { name: "support@acme.test" }).waitFor();
    await addRoute("@acme.test", "Billing", "5");
    // the domain route wins by its lower number, so it comes first
    await expect.poll(() => shownRoutes(page)).toEqual(["@acme.test", "support@acme.test"]);
    // on a tie an address wins over a domain, even over an older domain route
    await addRoute("billing@acme.test", "Billing", "5");
    await expect.poll(() => shownRoutes(page)).toEqual(["billing@acme.test", "@acme.test", "support@acme.test"]);
    const stored = await api<{ items: RouteView[] }>("GET", "/api/v1/routes");
    expect(stored.items.map((r) => [r.pattern, r.priority, r.queueId]).sort()).toEqual([
      ["@acme.test", 5, await queueId("Billing")],
      ["billing@acme.test", 5, await queueId("Billing")],
      ["support@acme.test", 20, await queueId("Support")],
    ]);
    await ui.screenshot(page, "routing-main");
    expect(await fitsNarrow(page)).toBe(true);
    await ui.screenshot(page, "routing-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });

    // edit: the address route gets the lowest number and moves to the top
    await routes.getByRole("button", { name: "Edit the route for support@acme.test to Support" }).click();
    const edit = page.getByRole("dialog", { name: "Route for support@acme.test" });
    await edit.getByLabel("Priority").fill("1");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    await expect.poll(() => shownRoutes(page)).toEqual(["support@acme.test", "billing@acme.test", "@acme.test"]);
    // focus goes back to the button that opened the dialog
    await expect.poll(() => isFocused(routes.getByRole("button", { name: "Edit the route for support@acme.test to Support" }))).toBe(true);

    // delete asks first
    await routes.getByRole("button", { name: "Delete the route for @acme.test to Billing" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete this route?" });
    await confirm.getByRole("button", { name: "Delete route" }).click();
    await expect.poll(() => shownRoutes(page)).toEqual(["support@acme.test", "billing@acme.test"]);
    expect((await api<{ items: RouteView[] }>("GET", "/api/v1/routes")).items.map((r) => [r.pattern, r.priority])).toEqual([
      ["support@acme.test", 1],
      ["billing@acme.test", 5],
    ]);
  });

  it("switches Route to Multiple Destinations on and off, and the API stores it", async () => {
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await page.goto(ui.base + "/routing");
    const section = page.getByRole("region", { name: "Route to Multiple Destinations" });
    await section.getByText("each of those queues gets an interaction of its own").waitFor();
    const box = section.getByRole("checkbox", { name: "Route to Multiple Destinations" });
    expect(await box.isChecked()).toBe(false);
    await box.check();
    await section.getByRole("button", { name: "Save setting" }).click();
    await section.getByText("Route to Multiple Destinations is on.").waitFor();
    expect(await api("GET", "/api/v1/settings/routing")).toEqual({ routeToMultipleDestinations: true });

    // after a reload the page shows what is stored
    await page.reload();
    await expect.poll(() => section.getByRole("checkbox", { name: "Route to Multiple Destinations" }).isChecked()).toBe(true);
    await box.uncheck();
    await section.getByRole("button", { name: "Save setting" }).click();
    await section.getByText("Route to Multiple Destinations is off.").waitFor();
    expect(await api("GET", "/api/v1/settings/routing")).toEqual({ routeToMultipleDestinations: false });
  });

  it("assigns agents to a queue from a checklist of agent users", async () => {
    await ui.createUser("ann", "agent");
    await ui.createUser("bob", "agent");
    await api("POST", "/api/v1/queues", { name: "Sales" });
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await page.goto(ui.base + "/routing");
    const queues = page.getByRole("region", { name: "Queues" });
    const sales = queues.getByRole("row", { name: /Sales/ });
    await sales.getByText("No agents").waitFor();

    await sales.getByRole("button", { name: "Agents of Sales" }).click();
    const dialog = page.getByRole("dialog", { name: "Agents of Sales" });
    // agents only: the admin is not offered
    expect(await dialog.getByRole("checkbox").count()).toBe(2);
    await dialog.getByRole("checkbox", { name: "ann" }).check();
    await ui.screenshot(page, "routing-queue-agents");
    await dialog.getByRole("button", { name: "Save agents" }).click();
    await dialog.waitFor({ state: "detached" });
    await sales.getByText("ann").waitFor();
    await queues.getByText("Sales is worked by 1 agent now.").waitFor();

    const users = (await api<{ items: { id: string; username: string }[] }>("GET", "/api/v1/users")).items;
    const ann = users.find((u) => u.username === "ann")!.id;
    expect(await api("GET", `/api/v1/queues/${await queueId("Sales")}/agents`)).toEqual({ userIds: [ann] });
  });

  it("shows a supervisor, who may not list users, how many agents work each queue and why not who", async () => {
    await ui.createUser("cid", "agent");
    const users = (await api<{ items: { id: string; username: string }[] }>("GET", "/api/v1/users")).items;
    const escalations = await api<{ id: string }>("POST", "/api/v1/queues", { name: "Escalations" });
    await api("PUT", `/api/v1/queues/${escalations.id}/agents`, { userIds: [users.find((u) => u.username === "cid")!.id] });
    await api("POST", "/api/v1/routes", { pattern: "@escalations.test", queueId: escalations.id, priority: 7 });

    const password = await ui.createUser("sam", "supervisor");
    const page = await ui.newPage();
    await ui.signIn(page, "sam", password);
    await page.goto(ui.base + "/routing");
    const queues = page.getByRole("region", { name: "Queues" });
    await queues.getByText("Only administrators can see the list of users").waitFor();
    await queues.getByRole("row", { name: /Escalations/ }).getByText("1 agent").waitFor();
    expect(await queues.getByRole("button", { name: /Agents of/ }).count()).toBe(0);
    // the rest of routing is theirs: the routes and the setting load
    await page.getByRole("region", { name: "Routes" }).getByRole("rowheader", { name: "@escalations.test" }).waitFor();
    await page.getByRole("region", { name: "Route to Multiple Destinations" }).getByRole("checkbox").waitFor();
    await ui.screenshot(page, "routing-supervisor");
  });
});
