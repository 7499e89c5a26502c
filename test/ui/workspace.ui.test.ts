import fs from "node:fs";
import { simpleParser } from "mailparser";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPassword, startUi, type UiHarness } from "../support/browser.js";
import {
  customerMail,
  focusedId,
  markDocument,
  pixelPng,
  postToSelf,
  setUpMailDesk,
  settles,
  startCountingServer,
  stillSameDocument,
  watchPage,
  type CountingServer,
  type MailDesk,
} from "./mail-setup.js";
import { layoutShift, recordLayoutShifts } from "./page-checks.js";

/**
 * The agent workspace in Chromium against a real Mailroom: customers' emails reach Dovecot, Mailroom
 * takes them over IMAP IDLE and routes them to the agent's queue, the agent works them in the browser,
 * and replies reach a real SMTP server.
 */
describe("agent workspace", () => {
  let ui: UiHarness;
  let desk: MailDesk;
  let remote: CountingServer;

  beforeAll(async () => {
    ui = await startUi({ runnersEnabled: true, parseWorkers: 1 });
    await ui.t.app.start();
    desk = await setUpMailDesk(ui, "ws");
    remote = await startCountingServer();
  });
  afterAll(async () => {
    await ui?.close();
    await desk?.close();
    await remote?.close();
  });

  type ApiInteraction = { id: string; subject: string; state: string; queueId: string | null; agentId: string | null };
  const interaction = async (id: string) => (await desk.api.get(`/api/v1/interactions/${id}`)).json<ApiInteraction>();
  /** A customer's email through Dovecot and Mailroom's IMAP runner; answers its interaction. */
  async function arrived(subject: string, text = `About ${subject}.`): Promise<ApiInteraction> {
    await desk.deliver(customerMail({ from: "Fay Customer <fay@customer.test>", to: desk.deskAddress, subject, text }).raw);
    await settles(async () => (await desk.api.get("/api/v1/interactions?limit=200")).json<{ items: ApiInteraction[] }>().items.some((i) => i.subject === subject)).toBe(true);
    return (await desk.api.get("/api/v1/interactions?limit=200")).json<{ items: ApiInteraction[] }>().items.find((i) => i.subject === subject)!;
  }
  const openedId = (page: Page) => new URL(page.url()).pathname.split("/")[2] ?? "";

  async function agentPage(viewport?: { width: number; height: number }): Promise<Page> {
    const page = await ui.newPage(viewport);
    await ui.signIn(page, desk.agent.username, desk.agent.password);
    await page.waitForURL(/\/workspace/);
    return page;
  }

  it("shows a new email live, takes it with Accept next, reads it, downloads its attachment, replies from a chosen From address, forwards it and finishes it", async () => {
    const page = await agentPage();
    const queues = page.getByRole("region", { name: "My queues" });
    await queues.getByText("No interactions waiting in your queues").waitFor();
    // a reload would drop this mark: it proves the count changes in the page as it is
    await markDocument(page);

    const invoice = Buffer.from("%PDF-1.4\n% invoice 1042 for Ann Customer\n");
    const mail = customerMail({
      from: "Ann Customer <ann@customer.test>",
      to: `Acme Desk <${desk.deskAddress}>`,
      cc: "Bob Partner <bob@partner.test>",
      subject: "Order 1042 has not arrived",
      text: "Hello, where is order 1042?",
      html: "<h1>Where is my order?</h1><p>Hello, where is <b>order 1042</b>? It was due on Monday.</p>",
      attachments: [{ filename: "invoice-1042.pdf", contentType: "application/pdf", content: invoice }],
    });
    await desk.deliver(mail.raw);
    await settles(() => queues.locator(".ws-total-count").textContent()).toBe("1");
    await settles(() => queues.getByRole("listitem").first().textContent()).toMatch(/Orders ws.*1 waiting/);
    expect(await stillSameDocument(page)).toBe(true);

    // with the keyboard: Accept next, and the focus lands on the interaction it took
    await queues.getByRole("button", { name: "Accept next" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/workspace\/[0-9a-f-]{36}/);
    const heading = page.getByRole("heading", { level: 2, name: "Order 1042 has not arrived" });
    await heading.waitFor();
    await settles(() => focusedId(page)).toBe("ws-subject");
    const id = openedId(page);
    expect(await interaction(id)).toMatchObject({ state: "assigned", agentId: desk.agent.id });
    await settles(() => queues.locator(".ws-total-count").textContent()).toBe("0");
    await page.getByRole("list", { name: "Assigned to me" }).getByRole("link", { name: /Order 1042 has not arrived/ }).waitFor();

    // headers and the HTML body, through the sandboxed frame
    const headers = page.locator(".ws-headers");
    await settles(() => headers.textContent()).toContain("Ann Customer <ann@customer.test>");
    expect(await headers.textContent()).toContain(`Acme Desk <${desk.deskAddress}>`);
    expect(await headers.textContent()).toContain("Bob Partner <bob@partner.test>");
    const body = page.frameLocator('iframe[title="Message body"]');
    await body.getByRole("heading", { name: "Where is my order?" }).waitFor();
    await body.getByText("It was due on Monday.").waitFor();

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "invoice-1042.pdf" }).click()]);
    expect(download.suggestedFilename()).toBe("invoice-1042.pdf");
    expect(fs.readFileSync(await download.path())).toEqual(invoice);
    await ui.screenshot(page, "workspace-open-html-mail");

    // the open interaction is in the address: a reload opens it again, laid out once as its data arrives
    await recordLayoutShifts(page);
    await page.reload();
    await heading.waitFor();
    await body.getByText("It was due on Monday.").waitFor();
    await page.getByRole("region", { name: "History" }).getByRole("cell", { name: /^Accepted/ }).waitFor();
    await page.getByRole("region", { name: "Interactions" }).getByRole("link", { name: /Order 1042/ }).waitFor();
    await page.getByRole("region", { name: "My queues" }).getByText("No interactions waiting in your queues").waitFor();
    expect(await layoutShift(page)).toBeLessThan(0.001);

    // reply all offers the sender and the other people of the email
    await page.getByRole("button", { name: "Reply all" }).click();
    const replyAll = page.getByRole("form", { name: "Reply all" });
    expect(await replyAll.getByLabel("To").inputValue()).toContain("ann@customer.test");
    expect(await replyAll.getByLabel("Cc").inputValue()).toBe("bob@partner.test");
    await replyAll.getByRole("button", { name: "Cancel" }).click();

    await page.getByRole("button", { name: "Reply", exact: true }).click();
    const form = page.getByRole("form", { name: "Reply" });
    expect(await form.getByLabel("To").inputValue()).toBe("ann@customer.test");
    expect(await form.getByLabel("Subject").inputValue()).toBe("Re: Order 1042 has not arrived");
    // the outbound mailbox's own address and the From addresses of the agents' folder
    expect(await form.getByLabel("From").locator("option").allTextContents()).toEqual(expect.arrayContaining(desk.fromAddresses.map(([address, name]) => `${name} <${address}>`)));
    const [chosenFrom, chosenName] = desk.fromAddresses[1]!;
    await form.getByLabel("From").selectOption(chosenFrom);
    await form.getByLabel("Message").fill("Dear Ann, your order ships tomorrow.");
    await form.getByText("The customer's message is quoted below your text").click();
    await ui.screenshot(page, "workspace-reply-form");
    await form.getByRole("button", { name: "Send" }).click();

    const sent = page.getByRole("region", { name: "Sent from this interaction" });
    await settles(() => sent.getByRole("listitem").first().textContent()).toMatch(/Reply to ann@customer\.test\s*Sent/);
    await settles(() => desk.sink.messages.some((m) => m.raw.toString("utf8").includes("your order ships tomorrow"))).toBe(true);
    const message = desk.sink.messages.find((m) => m.raw.toString("utf8").includes("your order ships tomorrow"))!;
    expect(message.to).toEqual(["ann@customer.test"]);
    const parsed = await simpleParser(message.raw);
    expect(parsed.from?.value).toEqual([{ address: chosenFrom, name: chosenName }]);
    expect(parsed.subject).toBe("Re: Order 1042 has not arrived");
    expect(parsed.inReplyTo).toBe(`<${mail.messageId}>`);
    expect(parsed.text).toContain("> Hello, where is order 1042?");
    await ui.screenshot(page, "workspace-reply-sent");

    // the reply joins the conversation and the history
    await settles(() => page.locator(".ws-thread .badge-ok").first().textContent()).toBe("Sent");
    await settles(() => page.getByRole("table").last().textContent()).toMatch(/Replied/);

    // forward to a colleague: "Fwd:", no recipient yet, and the customer's attachment goes along
    await page.getByRole("button", { name: "Forward" }).click();
    const forward = page.getByRole("form", { name: "Forward" });
    expect(await forward.getByLabel("To").inputValue()).toBe("");
    expect(await forward.getByLabel("Subject").inputValue()).toBe("Fwd: Order 1042 has not arrived");
    await forward.getByLabel("To").fill("billing@partner.test");
    await forward.getByLabel("Message").fill("Could you check the invoice below?");
    await forward.getByRole("button", { name: "Send" }).click();
    await settles(() => sent.getByRole("listitem").nth(1).textContent()).toMatch(/Forward to billing@partner\.test\s*Sent/);
    const forwarded = desk.sink.messages.find((m) => m.to.includes("billing@partner.test"))!;
    const forwardedMail = await simpleParser(forwarded.raw);
    expect(forwardedMail.subject).toBe("Fwd: Order 1042 has not arrived");
    expect(forwardedMail.attachments.map((a) => [a.filename, a.content.equals(invoice)])).toEqual([["invoice-1042.pdf", true]]);

    await page.getByRole("button", { name: "Done" }).click();
    await page.getByText("Marked done.").waitFor();
    expect(await interaction(id)).toMatchObject({ state: "done" });
    await settles(() => page.getByRole("region", { name: "Interactions" }).textContent()).toContain("You hold no interaction");
  });

  it("transfers to another queue, and drops an interaction another agent takes without a reload", async () => {
    const page = await agentPage();
    const queues = page.getByRole("region", { name: "My queues" });
    await queues.getByText("No interactions waiting in your queues").waitFor();
    await desk.deliver(customerMail({ from: "Cem <cem@customer.test>", to: desk.deskAddress, subject: "Wrong size delivered", text: "The shoes are too small." }).raw);
    await desk.deliver(customerMail({ from: "Dana <dana@customer.test>", to: desk.deskAddress, subject: "Invoice address", text: "Please change my invoice address." }).raw);
    await settles(() => queues.locator(".ws-total-count").textContent()).toBe("2");

    // the queue's name shows what waits there
    await queues.getByRole("button", { name: "Orders ws" }).click();
    const waiting = page.getByRole("list", { name: "Waiting in my queues" });
    await waiting.getByRole("link", { name: /Wrong size delivered/ }).click();
    await page.getByRole("heading", { level: 2, name: "Wrong size delivered" }).waitFor();
    const wrongSize = openedId(page);
    await page.getByRole("button", { name: "Accept", exact: true }).click();
    await page.getByText("You hold this interaction now.").waitFor();
    await page.getByRole("button", { name: "Transfer…" }).click();
    const dialog = page.getByRole("dialog", { name: "Transfer" });
    await dialog.getByRole("combobox", { name: "Queue" }).selectOption(desk.generalQueueId);
    await dialog.getByRole("button", { name: "Transfer" }).click();
    await page.getByText("“Wrong size delivered” was transferred to General ws.").waitFor();
    expect(await interaction(wrongSize)).toMatchObject({ state: "queued", queueId: desk.generalQueueId, agentId: null });
    await waiting.getByRole("link", { name: /Wrong size delivered/ }).waitFor({ state: "detached" });

    // the agent reads an email while another agent accepts it
    await waiting.getByRole("link", { name: /Invoice address/ }).click();
    await page.getByRole("heading", { level: 2, name: "Invoice address" }).waitFor();
    const invoiceAddress = openedId(page);
    await markDocument(page);
    expect((await desk.api.post(`/api/v1/interactions/${invoiceAddress}/accept`)).statusCode).toBe(200);
    await page.getByText("Another agent has accepted this interaction").waitFor();
    await waiting.getByRole("link", { name: /Invoice address/ }).waitFor({ state: "detached" });
    await settles(() => queues.locator(".ws-total-count").textContent()).toBe("0");
    expect(await page.getByRole("button", { name: "Reply", exact: true }).count()).toBe(0);
    expect(await stillSameDocument(page)).toBe(true);

    // a supervisor or admin filters every interaction
    const admin = await ui.newPage();
    await ui.signIn(admin, "admin", adminPassword);
    await admin.goto(ui.base + "/workspace");
    const list = admin.getByRole("region", { name: "Interactions" });
    await list.getByLabel("Show").selectOption("all");
    await list.getByLabel("State").selectOption("assigned");
    await list.getByRole("link", { name: /Invoice address/ }).waitFor();
    expect(new URL(admin.url()).search).toBe("?view=all&state=assigned");
    await list.getByLabel("State").selectOption("queued");
    await list.getByLabel("Queue").selectOption(desk.generalQueueId);
    expect(new URL(admin.url()).search).toBe(`?view=all&queue=${desk.generalQueueId}&state=queued`);
    // while the new filters load, the last list stays, marked busy (it showed "Invoice address" alone a moment ago)
    await list.locator('.ws-list-body[aria-busy="false"]').waitFor();
    expect(await list.getByRole("link").allTextContents()).toEqual([expect.stringMatching(/^Wrong size delivered/)]);
  });

  it("shows an HTML email's text but runs none of its scripts, and loads remote images only after Show images", async () => {
    const page = await agentPage();
    const heard = await watchPage(page);
    await page.reload();
    const html = [
      "<p>Please see our <b>new offer</b>.</p>",
      "<script>parent.postMessage('script-ran', '*')</script>",
      "<img src=\"x\" onerror=\"parent.postMessage('onerror-ran', '*')\">",
      `<img alt="tracking pixel" src="${remote.base}/pixel.png?from=mail">`,
      `<a href="${remote.base}/offer">See the offer</a>`,
    ].join("\n");
    await desk.deliver(customerMail({ from: "Spammy <offers@spam.test>", to: desk.deskAddress, subject: "A special offer", text: "Please see our new offer.", html }).raw);
    await page.getByRole("region", { name: "My queues" }).getByRole("button", { name: "Orders ws" }).click();
    await page.getByRole("list", { name: "Waiting in my queues" }).getByRole("link", { name: /A special offer/ }).click();
    await page.getByRole("heading", { level: 2, name: "A special offer" }).waitFor();

    const body = page.frameLocator('iframe[title="Message body"]');
    await body.getByText("new offer").waitFor();
    await page.getByText("1 remote image is hidden").waitFor();
    expect(remote.requests).toEqual([]);
    await ui.screenshot(page, "workspace-remote-images-hidden");

    await page.getByRole("button", { name: "Show images" }).click();
    await settles(() => remote.requests).toContain("/pixel.png?from=mail");
    // the window hears messages (the check below would see a script's), and heard none of the mail's
    await postToSelf(page, "control");
    await settles(() => heard.messages).toContain("control");
    expect(heard.messages).toEqual(["control"]);
    expect(new URL(page.url()).pathname).toBe(`/workspace/${openedId(page)}`);
  });

  it("shows an email's inline (cid:) images, which the sandboxed frame cannot fetch itself", async () => {
    const page = await agentPage();
    await desk.deliver(
      customerMail({
        from: "Hal Customer <hal@customer.test>",
        to: desk.deskAddress,
        subject: "Photo of the damage",
        text: "See the photo.",
        html: '<p>See the photo:</p><img alt="damage photo" src="cid:photo-1@customer.test">',
        attachments: [{ filename: "photo.png", contentType: "image/png", content: pixelPng, contentId: "photo-1@customer.test" }],
      }).raw,
    );
    // every document the message frame is given: it is written once, with the picture in it
    const bodyDocuments: string[] = [];
    page.on("framenavigated", (frame) => {
      if (frame.parentFrame() === page.mainFrame() && frame.url() === "about:srcdoc") bodyDocuments.push(frame.url());
    });
    await page.getByRole("region", { name: "My queues" }).getByRole("button", { name: "Orders ws" }).click();
    await page.getByRole("list", { name: "Waiting in my queues" }).getByRole("link", { name: /Photo of the damage/ }).click();
    const body = page.frameLocator('iframe[title="Message body"]');
    await body.getByText("See the photo:").waitFor();
    // 1: the 1×1 picture was decoded; a blocked or missing image has no natural width
    await settles(() => body.getByRole("img", { name: "damage photo" }).evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(1);
    expect(bodyDocuments).toEqual(["about:srcdoc"]);
  });

  it("runs nothing of hostile HTML that got past the server: no script, no handler, no refresh, no navigation, no remote load", async () => {
    const target = await arrived("Hostile if it were not sanitized");
    const page = await agentPage();
    const heard = await watchPage(page);
    const before = remote.requests.length;
    const hostile = [
      `<div><meta http-equiv="refresh" content="0;url=${remote.base}/refreshed"></div>`,
      "<script>parent.postMessage('inline-script-ran', '*'); top.location = 'about:blank#script';</script>",
      "<p>Hostile message</p>",
      "<img src=\"data:image/png;base64,broken\" onerror=\"parent.postMessage('onerror-ran', '*')\">",
      "<svg><rect width=\"1\" height=\"1\" onload=\"parent.postMessage('svg-onload-ran', '*')\"/></svg>",
      `<img src="${remote.base}/direct.png" onload="parent.postMessage('onload-ran', '*')">`,
      `<a href="${remote.base}/top" target="_top">Open on top</a>`,
      "<a href=\"javascript:parent.postMessage('javascript-url-ran', '*')\">Run the link</a>",
      `<form action="${remote.base}/form" method="post"><input name="card" value="4111"><button>Submit the form</button></form>`,
      `<iframe src="${remote.base}/frame"></iframe><object data="${remote.base}/object"></object>`,
      `<link rel="stylesheet" href="${remote.base}/style.css"><style>@import url("${remote.base}/import.css"); p { background: url("${remote.base}/bg.png") }</style>`,
      // the last thing the frame loads, once asked to show images: by then the whole document has been parsed
      `<img alt="sentinel" data-remote-src="${remote.base}/sentinel.png">`,
    ].join("\n");
    await page.route(`**/api/v1/interactions/${target.id}`, async (route) => {
      const response = await route.fetch();
      const detail = (await response.json()) as { html: string | null };
      await route.fulfill({ response, json: { ...detail, html: hostile } });
    });
    await page.goto(`${ui.base}/workspace/${target.id}`);
    const body = page.frameLocator('iframe[title="Message body"]');
    await body.getByText("Hostile message").waitFor();
    await body.getByRole("link", { name: "Open on top" }).click();
    await body.getByRole("link", { name: "Run the link" }).click();
    await body.getByRole("button", { name: "Submit the form" }).click();
    await ui.screenshot(page, "workspace-hostile-mail");
    // before the agent allows images, the frame loads nothing at all
    expect(remote.requests.slice(before)).toEqual([]);
    await page.getByRole("button", { name: "Show images" }).click();
    await settles(() => remote.requests.slice(before)).toContain("/sentinel.png");

    await postToSelf(page, "control");
    await settles(() => heard.messages).toContain("control");
    expect(heard.messages).toEqual(["control"]);
    // once images are allowed, images load (and their onload runs nothing); no page, frame, style, form or refresh does
    expect(remote.requests.slice(before).filter((p) => !p.endsWith(".png"))).toEqual([]);
    expect(new URL(page.url()).pathname).toBe(`/workspace/${target.id}`);
    expect(heard.navigations.filter((url) => url.startsWith(remote.base) || url.includes("#script"))).toEqual([]);
    expect(page.frames().map((f) => f.url()).filter((url) => url.startsWith(remote.base))).toEqual([]);
  });

  it("on a narrow screen shows an open email alone and stacks queues and list, and sends a new email", async () => {
    const open = await arrived("Parcel damaged", "The parcel arrived damaged.");
    const narrow = await agentPage({ width: 600, height: 900 });
    await narrow.goto(`${ui.base}/workspace/${open.id}`);
    const heading = narrow.getByRole("heading", { level: 2, name: "Parcel damaged" });
    await heading.waitFor();
    // the open email is the page; the list is a link away
    expect(await narrow.getByRole("heading", { level: 2, name: "Interactions" }).isVisible()).toBe(false);
    await ui.screenshot(narrow, "workspace-narrow");
    await narrow.getByRole("link", { name: "← Back to the list" }).click();
    await narrow.getByRole("heading", { level: 2, name: "Interactions" }).waitFor();
    await heading.waitFor({ state: "detached" });
    const queuesBox = (await narrow.getByRole("region", { name: "My queues" }).boundingBox())!;
    const listBox = (await narrow.getByRole("region", { name: "Interactions" }).boundingBox())!;
    expect(listBox.y).toBeGreaterThan(queuesBox.y + queuesBox.height - 1);
    expect(listBox.width).toBeGreaterThan(500);
    await ui.screenshot(narrow, "workspace-narrow-list");

    const page = await agentPage();
    await page.getByRole("button", { name: "New email" }).click();
    const dialog = page.getByRole("dialog", { name: "New email" });
    await dialog.getByLabel("From").selectOption(desk.fromAddresses[0]![0]);
    await dialog.getByLabel("To").fill("erik@customer.test");
    await dialog.getByLabel("Subject").fill("Your return label");
    await dialog.getByLabel("Message").fill("Here is the return label you asked for on the phone.");
    await dialog.getByRole("button", { name: "Send" }).click();
    const sent = page.getByRole("region", { name: "New emails you sent" });
    await settles(() => sent.getByRole("listitem").first().textContent()).toMatch(/New email to erik@customer\.test\s*Sent/);
    await settles(() => desk.sink.messages.some((m) => m.raw.toString("utf8").includes("return label you asked for"))).toBe(true);
    const raw = desk.sink.messages.find((m) => m.raw.toString("utf8").includes("return label you asked for"))!;
    expect(raw.to).toEqual(["erik@customer.test"]);
    expect((await simpleParser(raw.raw)).from?.value[0]?.address).toBe(desk.fromAddresses[0]![0]);

    // a mail server that refuses the email: the agent reads why, in the server's words
    desk.sink.rejectRecipient("gone@customer.test", 550, "5.1.1 No such user here");
    await page.getByRole("button", { name: "New email" }).click();
    await dialog.getByLabel("To").fill("gone@customer.test");
    await dialog.getByLabel("Subject").fill("Your order");
    await dialog.getByLabel("Message").fill("Your order is ready.");
    await dialog.getByRole("button", { name: "Send" }).click();
    const failed = sent.getByRole("listitem").filter({ hasText: "gone@customer.test" });
    await settles(() => failed.textContent()).toMatch(/Failed.*Not sent: .*5\.1\.1 No such user here/);
    await ui.screenshot(page, "workspace-send-failed");
  });
});
