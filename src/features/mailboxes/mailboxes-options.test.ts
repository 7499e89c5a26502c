import { afterEach, describe, expect, it } from "vitest";
import { adminApi, createMailbox, inboundGraph, inboundImap, inboundPop3, type AdminApi } from "../../../test/support/admin-api.js";
import { testDialects } from "../../../test/support/dialects.js";
import { createTestApp, type TestApp } from "../../../test/support/test-app.js";

describe.each(testDialects())("inbound mailbox options (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  afterEach(async () => t?.close());

  async function start() {
    t = await createTestApp(dialect);
    api = adminApi(t, await t.tokenFor("admin"));
  }

  it("gives each protocol its own defaults", async () => {
    await start();
    const imap = await api.post("/api/v1/mailboxes", inboundImap());
    expect(imap.json().options).toEqual({ folder: "INBOX", acknowledge: "seen", initialImport: "all" });
    const pop3 = await api.post("/api/v1/mailboxes", inboundPop3());
    expect(pop3.json().options).toEqual({ acknowledge: "delete", initialImport: "all" });
    const graph = await api.post("/api/v1/mailboxes", inboundGraph());
    expect(graph.json().options).toEqual({ initialImport: "all" });
  });

  it("stores IMAP options, moving processed mail to a folder when asked", async () => {
    await start();
    const res = await api.post(
      "/api/v1/mailboxes",
      inboundImap({ options: { folder: "Support", acknowledge: "move", processedFolder: "Support/Done", initialImport: "unseen" } }),
    );
    expect(res.statusCode).toBe(201);
    expect(res.json().options).toEqual({ folder: "Support", acknowledge: "move", processedFolder: "Support/Done", initialImport: "unseen" });
    const pop3 = await api.post("/api/v1/mailboxes", inboundPop3({ options: { acknowledge: "keep" } }));
    expect(pop3.json().options).toEqual({ acknowledge: "keep", initialImport: "all" });
  });

  it("refuses options that do not fit the protocol, and creates nothing", async () => {
    await start();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [inboundImap({ options: { acknowledge: "move" } }), "options.processedFolder", /folder that processed messages are moved to/],
      [inboundImap({ options: { acknowledge: "move", processedFolder: "INBOX" } }), "options.processedFolder", /differ from the folder/],
      [inboundImap({ options: { acknowledge: "delete" } }), "options.acknowledge", /IMAP mailbox acknowledges a message with seen or move/],
      [inboundImap({ options: { processedFolder: "Done" } }), "options.processedFolder", /only when acknowledge is move/],
      [inboundImap({ options: { acknowledge: "archive" } }), "options.acknowledge", /seen, move, delete or keep/],
      [inboundImap({ options: { folder: "" } }), "options.folder", /Folder must not be empty/],
      [inboundImap({ options: { initialImport: "recent" } }), "options.initialImport", /all or unseen/],
      [inboundImap({ options: { mode: "fast" } }), "options", /Unknown field\(s\): mode/],
      [inboundImap({ options: "INBOX" }), "options", /./],
      [inboundPop3({ options: { folder: "INBOX" } }), "options.folder", /IMAP mailboxes only/],
      [inboundPop3({ options: { acknowledge: "seen" } }), "options.acknowledge", /POP3 mailbox acknowledges a message with delete or keep/],
      [inboundPop3({ options: { initialImport: "unseen" } }), "options.initialImport", /POP3 has no read flag/],
      [inboundPop3({ options: { processedFolder: "Done" } }), "options.processedFolder", /IMAP mailboxes only/],
      [inboundImap({ type: "EWS", options: { acknowledge: "seen" } }), "options.acknowledge", /IMAP and POP3 mailboxes only/],
    ];
    for (const [payload, path, message] of cases) {
      const res = await api.post("/api/v1/mailboxes", payload);
      const what = JSON.stringify(payload.options);
      expect(res.statusCode, what).toBe(400);
      const detail = res.json().error.details.find((d: { path: string }) => d.path === path);
      expect(detail?.message, `${what}: ${res.body}`).toMatch(message);
    }
    expect((await api.get("/api/v1/mailboxes")).json().items).toEqual([]);
  });

  it("merges a patch into the current options and drops what no longer applies", async () => {
    await start();
    const id = await createMailbox(api, inboundImap());
    const moved = await api.patch(`/api/v1/mailboxes/${id}`, { options: { acknowledge: "move", processedFolder: "Done" } });
    expect(moved.json().options).toEqual({ folder: "INBOX", acknowledge: "move", processedFolder: "Done", initialImport: "all" });
    const refused = await api.patch(`/api/v1/mailboxes/${id}`, { options: { acknowledge: "keep" } });
    expect(refused.statusCode).toBe(400);
    const seen = await api.patch(`/api/v1/mailboxes/${id}`, { options: { acknowledge: "seen" } });
    expect(seen.json().options).toEqual({ folder: "INBOX", acknowledge: "seen", initialImport: "all" });
    // a new protocol starts from its own defaults
    const pop3 = await api.patch(`/api/v1/mailboxes/${id}`, { type: "POP3", port: 995, password: "pop-password-1" });
    expect(pop3.statusCode).toBe(200);
    expect(pop3.json().options).toEqual({ acknowledge: "delete", initialImport: "all" });
    const keep = await api.patch(`/api/v1/mailboxes/${id}`, { options: { acknowledge: "keep" } });
    expect(keep.json().options).toEqual({ acknowledge: "keep", initialImport: "all" });
  });
});
