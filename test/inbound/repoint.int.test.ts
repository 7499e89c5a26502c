import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import { testDialects } from "../support/dialects.js";
import { eventually, testMessage } from "../support/mail-fixtures.js";
import { startScriptedPop3, type ScriptedPop3 } from "../support/scripted-pop3.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * A mailbox pointed at another server or login starts afresh there: what it stored from the old
 * maildrop says nothing about the new one. Two POP3 maildrops that both hold a message of the same size
 * under the UIDL "1" show it: before, the new server's message looked "already stored", and was never
 * taken (left on the server) or deleted without being stored.
 */
describe.each(testDialects())("a mailbox pointed elsewhere (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  let oldServer: ScriptedPop3;
  let newServer: ScriptedPop3;

  beforeAll(async () => {
    oldServer = await startScriptedPop3({ user: "alice@acme.test", password: "alice-password" });
    newServer = await startScriptedPop3({ user: "bob@acme.test", password: "bob-password" });
    t = await createTestApp(dialect, { runnersEnabled: true, parseWorkers: 0, pop3PollSeconds: 0.2 });
    await t.app.start();
    api = adminApi(t, await t.tokenFor("admin"));
  });
  afterAll(async () => {
    await t?.close();
    await oldServer?.stop();
    await newServer?.stop();
  });

  const subjects = async (mailboxId: string): Promise<string[]> =>
    (await api.get(`/api/v1/interactions?mailboxId=${mailboxId}`)).json().items.map((i: { subject: string }) => i.subject).sort();

  const same = (subject: string) =>
    `From: customer@example.com\r\nTo: support@acme.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/ /g, ".")}@example.com>\r\n\r\nHello.\r\n`;

  it("takes the new maildrop's mail under keys the old one used, also where messages stay on the server", async () => {
    oldServer.maildrop.add(same("left on the old one"), "1");
    const queueId = (await api.post("/api/v1/queues", { name: "Keep" })).json().id;
    const created = await api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: "keeping", type: "POP3", mailbox: oldServer.user, password: oldServer.password,
      host: oldServer.host, port: oldServer.port, security: "none", options: { acknowledge: "keep" },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id;
    await api.post("/api/v1/applications", { name: "Keeping", enabled: true, queueId, mailboxIds: [id] });
    await eventually(async () => (await subjects(id)).length === 1, 20_000);

    // the same UIDL and the same size on the new server: only the maildrop tells them apart
    newServer.maildrop.add(same("left on the new one"), "1");
    const moved = await api.patch(`/api/v1/mailboxes/${id}`, { mailbox: newServer.user, password: newServer.password, port: newServer.port });
    expect(moved.statusCode, moved.body).toBe(200);
    await eventually(async () => (await subjects(id)).length === 2, 20_000);
    expect(await subjects(id)).toEqual(["left on the new one", "left on the old one"]);
    expect(newServer.maildrop.count).toBe(1);
    oldServer.maildrop.remove("1");
    newServer.maildrop.remove("1");
  });

  it("takes the new maildrop's mail under keys the old one used, and deletes each message only after storing it", async () => {
    oldServer.maildrop.add(testMessage("from the old server"), "1");
    const queueId = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
    const created = await api.post("/api/v1/mailboxes", {
      clientType: "inbound", name: "moving", type: "POP3", mailbox: oldServer.user, password: oldServer.password,
      host: oldServer.host, port: oldServer.port, security: "none",
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id;
    await api.post("/api/v1/applications", { name: "Moving", enabled: true, queueId, mailboxIds: [id] });
    await eventually(async () => (await subjects(id)).length === 1 && oldServer.maildrop.count === 0, 20_000);

    newServer.maildrop.add(testMessage("from the new server"), "1");
    const moved = await api.patch(`/api/v1/mailboxes/${id}`, { mailbox: newServer.user, password: newServer.password, port: newServer.port });
    expect(moved.statusCode, moved.body).toBe(200);
    await eventually(async () => (await subjects(id)).length === 2, 20_000);
    expect(await subjects(id)).toEqual(["from the new server", "from the old server"]);
    await eventually(async () => newServer.maildrop.count === 0, 20_000);
    expect(newServer.deleted().map((raw) => /Subject: (.*)\r\n/.exec(raw.toString())![1])).toEqual(["from the new server"]);
  });
});
