import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import { testDialects } from "../support/dialects.js";
import { startDovecot, type Dovecot } from "../support/dovecot.js";
import { eventually, testMessage, uniqueUser } from "../support/mail-fixtures.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * Inbound mail end to end: Dovecot → connector → runner → ingest → database → HTTP API,
 * in one Mailroom with its real connectors and parser, configured only through the API.
 * Every test runs on each dialect; the dialects share one Dovecot (every test has its own users).
 */
let dovecot: Dovecot;

beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.stop();
});

describe.each(testDialects())("inbound mail from Dovecot (%s)", (dialect) => {
  let t: TestApp;
  let api: AdminApi;
  let queueId: string;

  beforeAll(async () => {
    t = await createTestApp(dialect, { runnersEnabled: true, parseWorkers: 1, pop3PollSeconds: 0.5 });
    await t.app.start();
    api = adminApi(t, await t.tokenFor("admin"));
    queueId = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function mailbox(type: "IMAP" | "POP3", extra: Record<string, unknown> = {}): Promise<{ id: string; user: string; password: string }> {
    const user = uniqueUser(type.toLowerCase());
    const password = `pw-${user.slice(0, 8)}`;
    dovecot.addUser(user, password);
    const res = await api.post("/api/v1/mailboxes", {
      clientType: "inbound",
      name: user.split("@")[0]!.replace(/[^A-Za-z0-9@_.]/g, "_").slice(0, 40),
      type,
      mailbox: user,
      password,
      host: dovecot.host,
      port: type === "IMAP" ? dovecot.imapPort : dovecot.pop3Port,
      security: "none",
      ...extra,
    });
    expect(res.statusCode, res.body).toBe(201);
    return { id: res.json().id, user, password };
  }

  async function enable(name: string, mailboxIds: string[]): Promise<string> {
    const res = await api.post("/api/v1/applications", { name, enabled: true, queueId, mailboxIds });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }

  async function interactions(mailboxId: string): Promise<{ id: string; subject: string; queueId: string; flags: { wrapped: string | null } }[]> {
    return (await api.get(`/api/v1/interactions?mailboxId=${mailboxId}&limit=200`)).json().items;
  }

  async function status(mailboxId: string): Promise<{ state: string; code?: string; message?: string }> {
    return (await api.get(`/api/v1/mailboxes/${mailboxId}`)).json().status;
  }

  const allSeen = async (user: string) => [...(await dovecot.flags(user)).values()].every((f) => f.includes("\\Seen"));

  it("imports mail already in the inbox, then mail arriving while connected, and marks each \\Seen after storing it", async () => {
    const box = await mailbox("IMAP");
    await dovecot.append(box.user, testMessage("waiting before enable"));
    await dovecot.append(box.user, testMessage("already read"), ["\\Seen"]);
    await enable("imap-live", [box.id]);
    await eventually(async () => (await interactions(box.id)).length === 2, 15_000);
    await eventually(async () => (await status(box.id)).state === "ok", 5_000);

    await dovecot.append(box.user, testMessage("arrives during IDLE"));
    const items = await eventually(async () => {
      const list = await interactions(box.id);
      return list.length === 3 && list;
    }, 10_000);
    expect(items.map((i) => i.subject).sort()).toEqual(["already read", "arrives during IDLE", "waiting before enable"]);
    expect(items.every((i) => i.queueId === queueId)).toBe(true);
    await eventually(() => allSeen(box.user), 5_000);
  });

  it("stops taking mail while its application is disabled and resumes when it is enabled again", async () => {
    const box = await mailbox("IMAP");
    const appId = await enable("imap-toggle", [box.id]);
    await eventually(async () => (await status(box.id)).state === "ok", 10_000);
    expect((await api.patch(`/api/v1/applications/${appId}`, { enabled: false })).statusCode).toBe(200);
    expect(await status(box.id)).toMatchObject({ state: "disabled" });
    await dovecot.append(box.user, testMessage("sent while disabled"));
    // a runner that still ran would take it within a second; give it three
    await new Promise((r) => setTimeout(r, 3000));
    expect(await interactions(box.id)).toHaveLength(0);
    expect(await allSeen(box.user)).toBe(false);

    expect((await api.patch(`/api/v1/applications/${appId}`, { enabled: true })).statusCode).toBe(200);
    await eventually(async () => (await interactions(box.id)).length === 1, 10_000);
    await eventually(() => allSeen(box.user), 5_000);
  });

  it("reports a wrong password as auth_failed with the server's words, while another mailbox keeps flowing", async () => {
    const good = await mailbox("IMAP");
    const bad = await mailbox("IMAP");
    expect((await api.patch(`/api/v1/mailboxes/${bad.id}`, { password: "not-the-password" })).statusCode).toBe(200);
    await enable("imap-mixed", [good.id, bad.id]);
    const s = await eventually(async () => {
      const st = await status(bad.id);
      return st.state === "error" && st;
    }, 10_000);
    expect(s.code).toBe("auth_failed");
    expect(s.message).toMatch(/AUTHENTICATIONFAILED|Authentication failed/i);
    await dovecot.append(good.user, testMessage("still flowing"));
    await eventually(async () => (await interactions(good.id)).length === 1, 10_000);
    expect((await status(good.id)).state).toBe("ok");
  });

  it("takes every message exactly once when Dovecot restarts in the middle of a sync", async () => {
    const box = await mailbox("IMAP");
    const count = 400;
    await dovecot.deliver(box.user, Array.from({ length: count }, (_, i) => Buffer.from(testMessage(`restart ${i}`, "x".repeat(2000)))));
    await enable("imap-restart", [box.id]);
    await eventually(async () => (await t.app.services.interactions.store.count(box.id)) > 0, 15_000);
    await dovecot.restart();
    await eventually(async () => (await t.app.services.interactions.store.count(box.id)) === count, 60_000);
    await eventually(() => allSeen(box.user), 30_000);
    // no duplicates appeared after the last one was stored
    await new Promise((r) => setTimeout(r, 1000));
    expect(await t.app.services.interactions.store.count(box.id)).toBe(count);
  });

  it("does not import a mailbox again when its UIDVALIDITY changes, and goes on taking new mail", async () => {
    const box = await mailbox("IMAP");
    for (let i = 0; i < 3; i++) await dovecot.append(box.user, testMessage(`before reset ${i}`));
    await enable("imap-uidvalidity", [box.id]);
    await eventually(async () => (await interactions(box.id)).length === 3, 15_000);
    const before = await dovecot.uidValidity(box.user);
    await dovecot.resetUidValidity(box.user);
    expect(await dovecot.uidValidity(box.user)).not.toBe(before);
    await dovecot.append(box.user, testMessage("after reset"));
    await eventually(async () => (await interactions(box.id)).length === 4, 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await interactions(box.id)).map((i) => i.subject).sort()).toEqual(["after reset", "before reset 0", "before reset 1", "before reset 2"]);
  });

  it("turns a message over the mailbox's Max size into a wrapped interaction and still acknowledges it", async () => {
    const box = await mailbox("IMAP", { maxSizeMb: 5 });
    const big = testMessage("too big", "y".repeat(6 * 1024 * 1024));
    await dovecot.append(box.user, big);
    await enable("imap-oversize", [box.id]);
    const [item] = await eventually(async () => {
      const list = await interactions(box.id);
      return list.length === 1 && list;
    }, 20_000);
    expect(item).toMatchObject({ subject: "too big", flags: { wrapped: "oversize" } });
    await eventually(() => allSeen(box.user), 5_000);
  });

  it("sanitizes hostile HTML that arrives through a real mailbox", async () => {
    const box = await mailbox("IMAP");
    const hostile = [
      "From: attacker@example.test",
      "To: support@acme.test",
      "Subject: =?UTF-8?B?aGVsbG8NCkJjYzogdmljdGltQGV4YW1wbGUudGVzdA==?=",
      "Message-ID: <xss-1@example.test>",
      "MIME-Version: 1.0",
      "Content-Type: text/html; charset=utf-8",
      "",
      '<p onclick="steal()">Hi<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a><iframe srcdoc="<script>"></iframe></p>',
      "",
    ].join("\r\n");
    await dovecot.append(box.user, hostile);
    await enable("imap-hostile", [box.id]);
    const [item] = await eventually(async () => {
      const list = await interactions(box.id);
      return list.length === 1 && list;
    }, 15_000);
    const detail = (await api.get(`/api/v1/interactions/${item!.id}`)).json();
    expect(detail.subject).not.toMatch(/[\r\n]/);
    expect(detail.html).toContain("Hi");
    expect(detail.html).not.toMatch(/<script|onerror|onclick|javascript:|<iframe|srcdoc/i);
  });

  it("takes POP3 mail and deletes it from the server only after storing it", async () => {
    const box = await mailbox("POP3");
    for (let i = 0; i < 3; i++) await dovecot.append(box.user, testMessage(`pop ${i}`));
    await enable("pop3-delete", [box.id]);
    await eventually(async () => (await interactions(box.id)).length === 3, 15_000);
    await eventually(async () => (await dovecot.count(box.user)) === 0, 10_000);
  });

  it("leaves POP3 mail on the server when told to, without importing it twice", async () => {
    const box = await mailbox("POP3", { options: { acknowledge: "keep" } });
    await dovecot.append(box.user, testMessage("kept on server"));
    await enable("pop3-keep", [box.id]);
    await eventually(async () => (await interactions(box.id)).length === 1, 15_000);
    // the next polls see the same UIDL and skip it
    await new Promise((r) => setTimeout(r, 1500));
    expect(await interactions(box.id)).toHaveLength(1);
    expect(await dovecot.count(box.user)).toBe(1);
  });
});
