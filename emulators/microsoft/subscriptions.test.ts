import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { appToken, call, CLIENT, deliver, graphToken, Receiver, sampleMime, startTestEmulator, testSeed, SALES, SUPPORT, TENANT, type TestEmulator } from "./graph-test-support.js";

// each test watches a mailbox of its own, so that one test's mail never notifies another's subscription
const users = Array.from({ length: 20 }, (_, i) => ({ id: `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, "0")}`, mail: `watched${i}@contoso.test` }));
let nextUser = 0;
const freshUser = () => users[nextUser++] as { id: string; mail: string };

let t: TestEmulator;
let token: string;
const receivers: Receiver[] = [];

async function receiver(tlsOptions?: { key: string; cert: string }): Promise<Receiver> {
  const r = await new Receiver(tlsOptions).start();
  receivers.push(r);
  return r;
}

const inFuture = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

function subscribe(body: Record<string, unknown>, as = token) {
  return call(t.emulator, "POST", "/v1.0/subscriptions", { token: as, body });
}

beforeAll(async () => {
  t = await startTestEmulator({ seed: testSeed(users) });
  token = appToken(t.emulator);
});

afterEach(async () => {
  await call(t.emulator, "POST", "/_emulator/faults", { body: { clear: true } });
});

afterAll(async () => {
  for (const r of receivers) await r.close();
  await t.close();
});

describe("creating a subscription", () => {
  it("validates the endpoint first, then notifies it of new mail with its clientState", async () => {
    const user = freshUser();
    const r = await receiver();
    const created = await subscribe({
      changeType: "created",
      notificationUrl: r.url("/graph?source=mailroom"),
      resource: `users/${user.mail}/mailFolders('Inbox')/messages`,
      expirationDateTime: inFuture(60),
      clientState: "s3cret",
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      resource: `users/${user.mail}/mailFolders('Inbox')/messages`,
      applicationId: CLIENT,
      changeType: "created",
      clientState: "s3cret",
      notificationUrl: r.url("/graph?source=mailroom"),
      lifecycleNotificationUrl: null,
    });
    expect(r.validations).toHaveLength(1);
    expect(r.validations[0]).toMatch(/^Validation: .+ Request-Id: /);

    const id = await deliver(t.emulator, user.mail, sampleMime("Notify me"));
    const [item] = await r.waitForItems(1);
    expect(item).toEqual({
      subscriptionId: created.json.id,
      subscriptionExpirationDateTime: created.json.expirationDateTime,
      changeType: "created",
      resource: `Users/${user.id}/Messages/${id}`,
      resourceData: {
        "@odata.type": "#Microsoft.Graph.Message",
        "@odata.id": `Users/${user.id}/Messages/${id}`,
        "@odata.etag": expect.stringMatching(/^W\/".+"$/),
        id,
      },
      clientState: "s3cret",
      tenantId: TENANT,
    });
    const post = r.received[0];
    expect(post?.path).toBe("/graph");
    expect(post?.query.get("source")).toBe("mailroom");
    expect(post?.contentType).toMatch(/^application\/json/);
  });

  it("is refused when the endpoint does not echo the token, or fails", async () => {
    const user = freshUser();
    const wrong = await receiver();
    wrong.validation = "wrong";
    const body = { changeType: "created", resource: `users/${user.id}/messages`, expirationDateTime: inFuture(60) };
    const refused = await subscribe({ ...body, notificationUrl: wrong.url() });
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe("ValidationError");
    const failing = await receiver();
    failing.validation = "error";
    const failed = await subscribe({ ...body, notificationUrl: failing.url() });
    expect(failed.status).toBe(400);
    expect(failed.json.error).toMatchObject({
      code: "ValidationError",
      message: "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
    });
    const list = await call(t.emulator, "GET", "/v1.0/subscriptions", { token });
    expect(list.json.value.filter((s: { resource: string }) => s.resource === body.resource)).toEqual([]);
  });

  it("refuses an expiration past 10,070 minutes or in the past", async () => {
    const user = freshUser();
    const r = await receiver();
    const body = { changeType: "created", notificationUrl: r.url(), resource: `users/${user.id}/messages` };
    const tooLong = await subscribe({ ...body, expirationDateTime: inFuture(10_071) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error).toMatchObject({ code: "ExtensionError", message: "Subscription expiration can only be 10070 minutes in the future." });
    expect((await subscribe({ ...body, expirationDateTime: inFuture(-1) })).status).toBe(400);
    expect(r.validations).toEqual([]);
    expect((await subscribe({ ...body, expirationDateTime: inFuture(10_069) })).status).toBe(201);
  });

  it("needs read access to the mailbox: a mail role, or a delegated token for one's own", async () => {
    const user = freshUser();
    const r = await receiver();
    const body = { changeType: "created", notificationUrl: r.url(), resource: `users/${user.id}/mailFolders/inbox/messages`, expirationDateTime: inFuture(60) };
    const noMail = await subscribe(body, appToken(t.emulator, ["User.Read.All"]));
    expect(noMail.status).toBe(403);
    expect(noMail.json.error.code).toBe("ExtensionError");
    const delegatedOther = graphToken(t.emulator, { scp: "Mail.Read", user: SALES });
    expect((await subscribe(body, delegatedOther)).status).toBe(403);
    const delegatedSelf = graphToken(t.emulator, { scp: "Mail.Read", user: SUPPORT });
    const mine = await subscribe({ ...body, resource: "me/mailFolders('inbox')/messages" }, delegatedSelf);
    expect(mine.status).toBe(201);
    expect(mine.json.creatorId).toBe(SUPPORT.id);
  });

  it("takes http only on loopback, and nothing but https when strict", async () => {
    const strict = await startTestEmulator({ strict: true, seed: testSeed([]) });
    try {
      const strictToken = appToken(strict.emulator);
      const body = { changeType: "created", resource: `users/${SUPPORT.id}/messages`, expirationDateTime: inFuture(60) };
      const plain = await receiver();
      const refused = await call(strict.emulator, "POST", "/v1.0/subscriptions", { token: strictToken, body: { ...body, notificationUrl: plain.url() } });
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatchObject({ code: "InvalidRequest", message: "NotificationUrl scheme='http' is not supported." });
      expect(plain.validations).toEqual([]);

      // an https endpoint whose certificate the emulator's CA signed is trusted, as a public one would be
      const tlsFiles = { key: fs.readFileSync(path.join(strict.certDir, "server.key"), "utf8"), cert: fs.readFileSync(path.join(strict.certDir, "server.pem"), "utf8") };
      const secure = await receiver(tlsFiles);
      const created = await call(strict.emulator, "POST", "/v1.0/subscriptions", { token: strictToken, body: { ...body, notificationUrl: secure.url(), clientState: "tls" } });
      expect(created.status).toBe(201);
      await deliver(strict.emulator, SUPPORT.mail, sampleMime("Over TLS"));
      const [item] = await secure.waitForItems(1);
      expect(item?.clientState).toBe("tls");
    } finally {
      await strict.close();
    }
    const lenient = await subscribe({ changeType: "created", resource: `users/${freshUser().id}/messages`, expirationDateTime: inFuture(60), notificationUrl: "http://192.0.2.1/hook" });
    expect(lenient.status).toBe(400);
    expect(lenient.json.error.code).toBe("InvalidRequest");
  });
});

describe("managing subscriptions", () => {
  it("renews, refuses renewals past the limit, and deletes; a deleted subscription stops notifying", async () => {
    const user = freshUser();
    const r = await receiver();
    const resource = `users/${user.id}/mailFolders('inbox')/messages`;
    const first = await subscribe({ changeType: "created", notificationUrl: r.url("/first"), resource, expirationDateTime: inFuture(30) });
    const id = first.json.id as string;
    const renewed = await call(t.emulator, "PATCH", `/v1.0/subscriptions/${id}`, { token, body: { expirationDateTime: inFuture(120) } });
    expect(renewed.status).toBe(200);
    expect(new Date(renewed.json.expirationDateTime as string).getTime()).toBeGreaterThan(Date.now() + 100 * 60_000);
    expect((await call(t.emulator, "GET", `/v1.0/subscriptions/${id}`, { token })).json.expirationDateTime).toBe(renewed.json.expirationDateTime);
    expect((await call(t.emulator, "PATCH", `/v1.0/subscriptions/${id}`, { token, body: { expirationDateTime: inFuture(20_000) } })).status).toBe(400);

    // another app sees none of it
    const otherApp = graphToken(t.emulator, { roles: ["Mail.Read"] }, { appid: "0b0b0b0b-0000-4000-8000-000000000000", azp: "0b0b0b0b-0000-4000-8000-000000000000" });
    const hidden = await call(t.emulator, "GET", `/v1.0/subscriptions/${id}`, { token: otherApp });
    expect(hidden.status).toBe(404);
    expect(hidden.json.error.code).toBe("ResourceNotFound");
    expect((await call(t.emulator, "DELETE", `/v1.0/subscriptions/${id}`, { token: otherApp })).status).toBe(404);
    expect((await call(t.emulator, "GET", "/v1.0/subscriptions", { token: otherApp })).json.value).toEqual([]);

    expect((await call(t.emulator, "DELETE", `/v1.0/subscriptions/${id}`, { token })).status).toBe(204);
    expect((await call(t.emulator, "GET", `/v1.0/subscriptions/${id}`, { token })).status).toBe(404);
    // a second subscription on the same mailbox shows when the mail's notifications have gone out
    await subscribe({ changeType: "created", notificationUrl: r.url("/second"), resource, expirationDateTime: inFuture(30) });
    await deliver(t.emulator, user.mail, sampleMime("After delete"));
    await r.waitForItems(1);
    expect(r.received.map((p) => p.path)).toEqual(["/second"]);
  });

  it("an expired subscription disappears and stops notifying", async () => {
    const user = freshUser();
    const r = await receiver();
    const resource = `users/${user.id}/messages`;
    const short = await subscribe({ changeType: "created", notificationUrl: r.url("/short"), resource, expirationDateTime: inFuture(10) });
    const long = await subscribe({ changeType: "created", notificationUrl: r.url("/long"), resource, expirationDateTime: inFuture(100) });
    expect(long.status).toBe(201);
    await call(t.emulator, "POST", "/_emulator/clock", { body: { advanceSeconds: 11 * 60 } });
    try {
      const renewed = await call(t.emulator, "PATCH", `/v1.0/subscriptions/${long.json.id as string}`, { token: appToken(t.emulator), body: { expirationDateTime: inFuture(100) } });
      expect(renewed.status).toBe(200);
      expect((await call(t.emulator, "GET", `/v1.0/subscriptions/${short.json.id as string}`, { token })).status).toBe(404);
      await deliver(t.emulator, user.mail, sampleMime("After expiry"));
      await r.waitForItems(1);
      expect(r.received.map((p) => p.path)).toEqual(["/long"]);
    } finally {
      await call(t.emulator, "POST", "/_emulator/clock", { body: { advanceSeconds: -11 * 60 } });
    }
  });
});

describe("notifications", () => {
  it("sends updated and deleted changes to subscriptions that asked for them", async () => {
    const user = freshUser();
    const r = await receiver();
    await subscribe({ changeType: "updated,deleted", notificationUrl: r.url(), resource: `/users/${user.id}/mailfolders('inbox')/messages`, expirationDateTime: inFuture(60) });
    const id = await deliver(t.emulator, user.mail, sampleMime("Read me"));
    await call(t.emulator, "PATCH", `/v1.0/users/${user.id}/messages/${id}`, { token, body: { isRead: true } });
    await call(t.emulator, "DELETE", `/v1.0/users/${user.id}/messages/${id}`, { token });
    const items = await r.waitForItems(2);
    expect(items.map((i) => i.changeType)).toEqual(["updated", "deleted"]);
  });

  it("drops the configured share of change notifications, evenly", async () => {
    const user = freshUser();
    const r = await receiver();
    await subscribe({ changeType: "created", notificationUrl: r.url(), resource: `users/${user.id}/messages`, expirationDateTime: inFuture(60) });
    const before = (await call(t.emulator, "GET", "/_emulator/stats")).json;
    await call(t.emulator, "POST", "/_emulator/faults", { body: { dropNotifications: 0.5 } });
    const subjects = ["Drop 0", "Drop 1", "Drop 2", "Drop 3"];
    for (const s of subjects) await deliver(t.emulator, user.mail, sampleMime(s));
    const stats = (await call(t.emulator, "GET", "/_emulator/stats")).json;
    expect(stats.notificationsSent - before.notificationsSent).toBe(2);
    expect(stats.notificationsDropped - before.notificationsDropped).toBe(2);
    // one more with nothing dropped marks the end: everything sent before it has arrived
    await call(t.emulator, "POST", "/_emulator/faults", { body: { dropNotifications: 0 } });
    await deliver(t.emulator, user.mail, sampleMime("Sentinel"));
    await r.waitForItems(3);
    expect(r.items()).toHaveLength(3);
  });

  it("retries a notification the endpoint did not acknowledge", async () => {
    const user = freshUser();
    const r = await receiver();
    r.answers = [{ status: 503 }, { status: 202 }];
    await subscribe({ changeType: "created", notificationUrl: r.url(), resource: `users/${user.id}/messages`, expirationDateTime: inFuture(60) });
    await deliver(t.emulator, user.mail, sampleMime("Retry me"));
    const [failed, retried] = await r.waitForPosts(2);
    expect(retried?.body).toBe(failed?.body);
  });
});

describe("lifecycle notifications", () => {
  it("go to the lifecycleNotificationUrl, validated at creation; subscriptionRemoved removes the subscription", async () => {
    const user = freshUser();
    const changes = await receiver();
    const lifecycle = await receiver();
    const created = await subscribe({
      changeType: "created",
      notificationUrl: changes.url(),
      lifecycleNotificationUrl: lifecycle.url("/lifecycle"),
      resource: `users/${user.id}/messages`,
      expirationDateTime: inFuture(120),
      clientState: "life",
    });
    expect(created.status).toBe(201);
    expect(lifecycle.validations).toHaveLength(1);
    const id = created.json.id as string;
    for (const event of ["reauthorizationRequired", "missed", "subscriptionRemoved"]) {
      const r = await call(t.emulator, "POST", "/_emulator/lifecycle", { body: { subscriptionId: id, event } });
      expect(r.status).toBe(202);
    }
    const items = await lifecycle.waitForItems(3);
    expect(items.map((i) => i.lifecycleEvent)).toEqual(["reauthorizationRequired", "missed", "subscriptionRemoved"]);
    expect(items[0]).toEqual({ subscriptionId: id, subscriptionExpirationDateTime: created.json.expirationDateTime, tenantId: TENANT, clientState: "life", lifecycleEvent: "reauthorizationRequired" });
    expect(changes.received).toEqual([]);
    expect((await call(t.emulator, "GET", `/v1.0/subscriptions/${id}`, { token })).status).toBe(404);
  });

  it("are refused for a subscription created without a lifecycleNotificationUrl", async () => {
    const r = await receiver();
    const created = await subscribe({ changeType: "created", notificationUrl: r.url(), resource: `users/${freshUser().id}/messages`, expirationDateTime: inFuture(60) });
    const res = await call(t.emulator, "POST", "/_emulator/lifecycle", { body: { subscriptionId: created.json.id, event: "missed" } });
    expect(res.status).toBe(409);
  });

  it("reauthorizationRequired comes by itself when the subscription is about to expire; reauthorize answers 204", async () => {
    const user = freshUser();
    const r = await receiver();
    const created = await subscribe({
      changeType: "created",
      notificationUrl: r.url("/changes"),
      lifecycleNotificationUrl: r.url("/lifecycle"),
      resource: `users/${user.id}/messages`,
      expirationDateTime: inFuture(10),
    });
    const [item] = await r.waitForItems(1, (i) => i.lifecycleEvent === "reauthorizationRequired");
    expect(item?.subscriptionId).toBe(created.json.id);
    const reauthorized = await call(t.emulator, "POST", `/v1.0/subscriptions/${created.json.id as string}/reauthorize`, { token });
    expect(reauthorized.status).toBe(204);
  });
});
