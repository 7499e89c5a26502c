import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import { freePort } from "../support/net.js";
import { customerMail, markDocument, setUpMailDesk, settles, stillSameDocument, type MailDesk } from "./mail-setup.js";
import { layoutShift, recordLayoutShifts } from "./page-checks.js";

/**
 * The supervisor view in Chromium against a real Mailroom with running mailboxes: queue load, and each
 * mailbox's health as the server reports it, kept current by the event stream.
 */
describe("supervisor view", () => {
  let ui: UiHarness;
  let desk: MailDesk;
  let brokenId: string;
  let expiringId: string;

  beforeAll(async () => {
    ui = await startUi({ runnersEnabled: true, parseWorkers: 1 });
    await ui.t.app.start();
    desk = await setUpMailDesk(ui, "sv");
    // nothing listens on this port: connecting is refused
    const closedPort = await freePort();
    const broken = await desk.api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: "broken_box", type: "IMAP", mailbox: "nobody@acme.test", password: "pw-broken-1", host: "127.0.0.1", port: closedPort, security: "none",
    });
    expect(broken.statusCode, broken.body).toBe(201);
    brokenId = broken.json().id;
    const expiresOn = new Date(Date.now() + 12 * 86_400_000).toISOString().slice(0, 10);
    const expiring = await desk.api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: "graph_box", type: "GRAPH", mailbox: "sales@acme.test", host: "graph.microsoft.com", port: 443,
      auth: { method: "oauth2", grant: "client_credentials", clientId: "11111111-2222-3333-4444-555555555555", directoryId: "66666666-7777-8888-9999-000000000000", secretExpiresAt: expiresOn },
      clientSecret: "graph-client-secret-1",
    });
    expect(expiring.statusCode, expiring.body).toBe(201);
    expiringId = expiring.json().id;
  });
  afterAll(async () => {
    await ui?.close();
    await desk?.close();
  });

  const card = (page: Page, name: string) => page.getByRole("region", { name: "Mailboxes" }).getByRole("listitem", { name });

  it("shows queue load and mailbox health, and follows a mailbox into error and new mail without a reload", async () => {
    const page = await ui.newPage();
    await ui.signIn(page, "admin", adminPassword);
    await recordLayoutShifts(page);
    await page.goto(ui.base + "/supervisor");
    const queues = page.getByRole("region", { name: "Queues" });
    const orders = queues.getByRole("row", { name: /Orders sv/ });
    await settles(() => orders.textContent()).toMatch(/Orders sv\s*0\s*0\s*Nothing waiting/);

    const desktop = card(page, `sv_desk`);
    await settles(() => desktop.textContent()).toContain("Working");
    expect(await desktop.textContent()).toContain("Emails per minute0 (0 in the last 10 min)");

    // the secret's expiry as the API works it out
    const expiry = (await desk.api.get(`/api/v1/mailboxes/${expiringId}`)).json().auth.secretExpiry as { state: string; daysLeft: number };
    expect(expiry.state).toBe("expiring");
    const graph = card(page, "graph_box");
    await settles(() => graph.textContent()).toContain(`Client secret expires in ${expiry.daysLeft} days`);
    await settles(() => page.locator(".sv-summary").textContent()).toBe("1 mailbox needs attention: graph_box.");
    // the figures arrived without moving what was already on the page
    expect(await layoutShift(page)).toBeLessThan(0.001);

    await markDocument(page);
    const broken = card(page, "broken_box");
    expect(await broken.textContent()).toContain("Disabled");
    const app = await desk.api.post("/api/v1/applications", { name: "Broken desk", enabled: true, queueId: desk.generalQueueId, mailboxIds: [brokenId] });
    expect(app.statusCode, app.body).toBe(201);
    await settles(async () => (await desk.api.get(`/api/v1/mailboxes/${brokenId}`)).json().status.state).toBe("error");
    const status = (await desk.api.get(`/api/v1/mailboxes/${brokenId}`)).json().status as { code: string; message: string };
    expect(status.message).toBeTruthy();
    // the server's own words, not a paraphrase
    await settles(() => broken.getByRole("note", { name: "Last error of broken_box" }).textContent()).toBe(`Last error${status.code}${status.message}`);
    expect(await broken.locator(".badge").first().textContent()).toBe("Error");
    await settles(() => page.locator(".sv-summary").textContent()).toBe("2 mailboxes need attention: broken_box, graph_box.");

    // a customer's email raises the queue's count and the mailbox's rate
    await desk.deliver(customerMail({ from: "Gus <gus@customer.test>", to: desk.deskAddress, subject: "Where is my refund?", text: "Still waiting for it." }).raw);
    await settles(() => orders.textContent()).toMatch(/Orders sv\s*1\s*0\s*under a minute/);
    await settles(() => desktop.textContent()).toContain("Emails per minute0.1 (1 in the last 10 min)");
    expect(await stillSameDocument(page)).toBe(true);
    await ui.screenshot(page, "supervisor-view");

    // an agent takes it: waiting goes down, assigned up
    const waiting = (await desk.api.get(`/api/v1/interactions?queueId=${desk.ordersQueueId}&state=queued`)).json().items as { id: string }[];
    expect((await desk.api.post(`/api/v1/interactions/${waiting[0]!.id}/transfer`, { agentId: desk.agent.id })).statusCode).toBe(200);
    await settles(() => orders.textContent()).toMatch(/Orders sv\s*0\s*1\s*Nothing waiting/);
  });

  it("shows a supervisor the queues and mailbox health on a phone", async () => {
    const password = await ui.createUser("super-sv", "supervisor");
    const page = await ui.newPage({ width: 390, height: 844 });
    await ui.signIn(page, "super-sv", password);
    await page.waitForURL(/\/supervisor$/);
    await page.getByRole("region", { name: "Queues" }).getByRole("row", { name: /Orders sv/ }).waitFor();
    // a supervisor reads mailbox health (GET /api/v1/mailboxes/health), not the mailboxes' settings
    const status = (await desk.api.get(`/api/v1/mailboxes/${brokenId}`)).json().status as { code: string; message: string };
    await settles(() => card(page, "broken_box").getByRole("note", { name: "Last error of broken_box" }).textContent()).toBe(`Last error${status.code}${status.message}`);
    await settles(() => card(page, "graph_box").textContent()).toContain("Client secret expires in");
    expect(await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")).toBe(0);
    await ui.screenshot(page, "supervisor-as-supervisor-narrow");
  });
});
