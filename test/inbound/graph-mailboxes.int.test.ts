import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, type AdminApi } from "../support/admin-api.js";
import { eventually, testMessage, uniqueUser } from "../support/mail-fixtures.js";
import { startMicrosoft, type Microsoft } from "../support/microsoft.js";
import { freePort } from "../support/net.js";
import { testDialects } from "../support/dialects.js";
import { createPeerApp } from "../support/peer-app.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/**
 * Microsoft 365 mailboxes through Graph, end to end: Mailroom listens on a port the emulator posts its
 * change notifications to (MAILROOM_PUBLIC_URL), gets its tokens from the emulator's Entra ID, and is
 * configured only through the API.
 */
let ms: Microsoft;

beforeAll(async () => {
  ms = await startMicrosoft();
});
afterAll(async () => {
  await ms?.stop();
});

interface Started {
  t: TestApp;
  api: AdminApi;
  queueId: string;
}

/**
 * A Mailroom listening on 127.0.0.1, with Graph's notifications sent to it (or to `publicUrl`, where
 * nothing may answer) and the catch-up every `catchUpSeconds`.
 */
async function startMailroom(catchUpSeconds: number, publicUrl?: string): Promise<Started> {
  const port = await freePort();
  const t = await createTestApp("sqlite", {
    runnersEnabled: true,
    parseWorkers: 1,
    microsoft: { trustedCaPem: ms.emulator.caPem, tokenTimeoutMs: 10_000, publicUrl: publicUrl ?? `http://127.0.0.1:${port}`, catchUpSeconds },
  });
  await t.app.http.listen({ port, host: "127.0.0.1" });
  await t.app.start();
  const api = adminApi(t, await t.tokenFor("admin"));
  const queueId = (await api.post("/api/v1/queues", { name: "Support" })).json().id;
  return { t, api, queueId };
}

const signIn = () => ({ method: "oauth2", grant: "client_credentials", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority });
const port = () => Number(new URL(ms.url).port);

let apps = 0;
async function graphMailbox(s: Started, extra: Record<string, unknown> = {}): Promise<{ id: string; user: string }> {
  const user = uniqueUser("graph");
  await ms.addUser(user);
  const res = await s.api.post("/api/v1/mailboxes", {
    clientType: "inbound",
    name: user.split("@")[0]!.replace(/[^A-Za-z0-9@_.]/g, "_").slice(0, 40),
    type: "GRAPH",
    mailbox: user,
    host: "127.0.0.1",
    port: port(),
    security: "tls",
    auth: signIn(),
    clientSecret: ms.clientSecret,
    ...extra,
  });
  expect(res.statusCode, res.body).toBe(201);
  const app = await s.api.post("/api/v1/applications", { name: `graph-${++apps}`, enabled: true, queueId: s.queueId, mailboxIds: [res.json().id] });
  expect(app.statusCode, app.body).toBe(201);
  return { id: res.json().id, user };
}

const subjects = async (s: Started, mailboxId: string) =>
  ((await s.api.get(`/api/v1/interactions?mailboxId=${mailboxId}&limit=100`)).json().items as { subject: string }[]).map((i) => i.subject).sort();
const status = async (s: Started, mailboxId: string) => (await s.api.get(`/api/v1/mailboxes/${mailboxId}`)).json().status as { state: string; code?: string; message?: string; warnings: { code: string; message: string }[] };
const subscriptionOf = async (user: string) =>
  ((await ms.get("/_emulator/subscriptions")) as { id: string; resource: string; expirationDateTime: string }[]).filter((x) => x.resource.includes(user));

describe("Graph mailboxes woken by change notifications", () => {
  let s: Started;
  beforeAll(async () => {
    // the catch-up is far away: what arrives here came through a notification
    s = await startMailroom(3600);
  });
  afterAll(async () => {
    await s?.t.close();
  });

  it("subscribes, takes a new message on its notification, and marks it read only after storing it", async () => {
    const box = await graphMailbox(s);
    await ms.deliver(box.user, testMessage("waiting before enable"));
    await eventually(async () => (await subscriptionOf(box.user)).length === 1, 20_000);
    await eventually(async () => (await subjects(s, box.id)).length === 1, 20_000);
    await eventually(async () => (await status(s, box.id)).state === "ok", 10_000);

    await ms.deliver(box.user, testMessage("arrives while subscribed"));
    await eventually(async () => (await subjects(s, box.id)).length === 2, 20_000);
    expect(await subjects(s, box.id)).toEqual(["arrives while subscribed", "waiting before enable"]);
    await eventually(async () => (await ms.messages(box.user)).every((m) => m.isRead), 10_000);
  });

  it("renews its subscription when Graph asks for reauthorization, makes a new one when Graph removes it, and catches up when Graph missed notifications", async () => {
    const box = await graphMailbox(s);
    await eventually(async () => (await subscriptionOf(box.user)).length === 1, 20_000);
    const [first] = await subscriptionOf(box.user);
    await ms.control("/_emulator/lifecycle", { subscriptionId: first!.id, event: "reauthorizationRequired" });
    await eventually(async () => {
      const [now] = await subscriptionOf(box.user);
      return now?.id === first!.id && now.expirationDateTime > first!.expirationDateTime;
    }, 20_000);
    await ms.control("/_emulator/lifecycle", { subscriptionId: first!.id, event: "subscriptionRemoved" });
    await eventually(async () => (await subscriptionOf(box.user)).some((x) => x.id !== first!.id), 20_000);

    // mail whose notification is dropped, then a "missed" lifecycle notification: the mailbox runs a delta query
    await ms.control("/_emulator/faults", { dropNotifications: 1 });
    try {
      await ms.deliver(box.user, testMessage("notification lost"));
      const [second] = await subscriptionOf(box.user);
      await ms.control("/_emulator/lifecycle", { subscriptionId: second!.id, event: "missed" });
      await eventually(async () => (await subjects(s, box.id)).includes("notification lost"), 20_000);
    } finally {
      await ms.control("/_emulator/faults", { clear: true });
    }
  });

  it("ignores notifications without the subscription's clientState, and answers Graph's validation handshake", async () => {
    const handshake = await s.t.request({ method: "POST", url: "/api/v1/graph/notifications?validationToken=Validation%3A%20Testing%20client%20application%20reachability", payload: "" , headers: { "content-type": "text/plain" } });
    expect(handshake.statusCode).toBe(200);
    expect(handshake.headers["content-type"]).toMatch(/^text\/plain/);
    expect(handshake.body).toBe("Validation: Testing client application reachability");

    const box = await graphMailbox(s);
    await eventually(async () => (await subscriptionOf(box.user)).length === 1, 20_000);
    await eventually(async () => (await status(s, box.id)).state === "ok", 20_000);
    // the message is at Graph, but its notification is dropped; a forged one must not fetch it
    await ms.control("/_emulator/faults", { dropNotifications: 1 });
    try {
      await ms.deliver(box.user, testMessage("only a forged notification"));
      const [sub] = await subscriptionOf(box.user);
      const forged = await s.t.request({
        method: "POST",
        url: "/api/v1/graph/notifications",
        payload: { value: [{ subscriptionId: sub!.id, clientState: "guessed", changeType: "created", resource: "x" }] },
      });
      expect(forged.statusCode).toBe(202);
      expect(s.t.logText()).toMatch(/unknown subscription or a wrong clientState were ignored/);
      // a request the mailbox would have made by now if woken: the lifecycle "missed" below
      expect(await subjects(s, box.id)).toEqual([]);
      await ms.control("/_emulator/lifecycle", { subscriptionId: sub!.id, event: "missed" });
      await eventually(async () => (await subjects(s, box.id)).length === 1, 20_000);
    } finally {
      await ms.control("/_emulator/faults", { clear: true });
    }
  });

  it("loses and doubles nothing while Graph throttles half of its requests with Retry-After", async () => {
    const box = await graphMailbox(s);
    await eventually(async () => (await status(s, box.id)).state === "ok", 20_000);
    await ms.control("/_emulator/faults", { fail: { match: "graph", status: 429, retryAfterSeconds: 1, ratio: 0.5 } });
    try {
      for (let i = 1; i <= 6; i++) await ms.deliver(box.user, testMessage(`throttled ${i}`));
      await eventually(async () => (await subjects(s, box.id)).length >= 6, 30_000);
      const throttled = ((await ms.get("/_emulator/stats")) as { throttled: number }).throttled;
      expect(throttled).toBeGreaterThan(0);
    } finally {
      await ms.control("/_emulator/faults", { clear: true });
    }
    expect(await subjects(s, box.id)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `throttled ${i}`));
    await eventually(async () => (await ms.messages(box.user)).every((m) => m.isRead), 10_000);
  });

  it("shows an expired client secret as secret_expired with Entra's words", async () => {
    const tenant = ms.emulator.state.tenants.get(ms.tenantId)!;
    const clientId = "22222222-0000-4000-8000-0000000000ee";
    tenant.clients.set(clientId, { clientId, clientSecret: "expired-secret", secretExpiresAt: new Date(Date.now() - 86_400_000), roles: ["Mail.ReadWrite"], scopes: [], consented: true });
    const box = await graphMailbox(s, { auth: { ...signIn(), clientId }, clientSecret: "expired-secret" });
    await eventually(async () => (await status(s, box.id)).code === "secret_expired", 20_000);
    expect((await status(s, box.id)).message).toMatch(/client secret of the Azure app .* has expired.*AADSTS7000222/s);
  });
});

describe.runIf(testDialects().includes("postgres"))("Graph notifications on several nodes (PostgreSQL)", () => {
  it("wakes the mailbox's node when Graph's notification reaches another node", async () => {
    // node B serves only the API and receives Graph's notifications (a load balancer's choice);
    // node A runs the mailbox. The catch-up is an hour away: what arrives came through B.
    const portB = await freePort();
    const microsoft = { trustedCaPem: ms.emulator.caPem, tokenTimeoutMs: 10_000, publicUrl: `http://127.0.0.1:${portB}`, catchUpSeconds: 3600 };
    const t = await createTestApp("postgres", { runnersEnabled: true, parseWorkers: 1, microsoft });
    const b = await createPeerApp(t, { runnersEnabled: false, microsoft });
    try {
      await b.app.http.listen({ port: portB, host: "127.0.0.1" });
      await t.app.start();
      const api = adminApi(t, await t.tokenFor("admin"));
      const s: Started = { t, api, queueId: (await api.post("/api/v1/queues", { name: "Support" })).json().id };
      const box = await graphMailbox(s);
      await eventually(async () => (await subscriptionOf(box.user)).length === 1, 20_000);
      await eventually(async () => (await status(s, box.id)).state === "ok", 20_000);
      const sent = async () => ((await ms.get("/_emulator/stats")) as { notificationsSent: number }).notificationsSent;
      const before = await sent();

      await ms.deliver(box.user, testMessage("told to node B"));
      await eventually(async () => (await subjects(s, box.id)).includes("told to node B"), 20_000);
      // it came as a notification (to B), not through a sync of A's own
      expect(await sent()).toBeGreaterThan(before);
    } finally {
      await b.close();
      await t.close();
    }
  });
});

describe("Graph mailboxes when notifications never come", () => {
  let s: Started;
  beforeAll(async () => {
    s = await startMailroom(1);
  });
  afterAll(async () => {
    await s?.t.close();
  });

  it("takes every message through the periodic delta catch-up when Graph drops all notifications", async () => {
    const box = await graphMailbox(s);
    await eventually(async () => (await status(s, box.id)).state === "ok", 20_000);
    await ms.control("/_emulator/faults", { dropNotifications: 1 });
    try {
      for (let i = 1; i <= 3; i++) await ms.deliver(box.user, testMessage(`no notification ${i}`));
      await eventually(async () => (await subjects(s, box.id)).length === 3, 20_000);
      expect(((await ms.get("/_emulator/stats")) as { notificationsDropped: number }).notificationsDropped).toBeGreaterThanOrEqual(3);
    } finally {
      await ms.control("/_emulator/faults", { clear: true });
    }
    await eventually(async () => (await ms.messages(box.user)).every((m) => m.isRead), 10_000);
  });
});

describe("Graph mailboxes when Graph cannot reach Mailroom", () => {
  it("say once that notifications are unavailable, and take the mail with the catch-up", async () => {
    // nothing answers Graph's validation request there
    const s = await startMailroom(0.5, `http://127.0.0.1:${await freePort()}`);
    try {
      const box = await graphMailbox(s);
      await ms.deliver(box.user, testMessage("found by the catch-up"));
      await eventually(async () => (await subjects(s, box.id)).length === 1, 20_000);
      await eventually(async () => (await status(s, box.id)).warnings.length > 0, 10_000);
      // several catch-ups later: still the one warning, with Graph's reason
      await ms.deliver(box.user, testMessage("found later"));
      await eventually(async () => (await subjects(s, box.id)).length === 2, 20_000);
      const { warnings, state } = await status(s, box.id);
      expect(state).toBe("ok");
      expect(warnings.map((w) => w.code)).toEqual(["notifications_unavailable"]);
      expect(warnings[0]!.message).toMatch(/change subscription .* periodic catch-up only: .*validation/i);
      expect(await subscriptionOf(box.user)).toEqual([]);
    } finally {
      await s.t.close();
    }
  });
});

describe("a Graph outbound mailbox", () => {
  it("sends through sendMail as its user, with Bcc recipients kept out of the headers the others see", async () => {
    const s = await startMailroom(3600);
    try {
      await ms.addUser("outbound@acme.test");
      const customer = uniqueUser("customer");
      await ms.addUser(customer);
      const res = await s.api.post("/api/v1/mailboxes", {
        clientType: "outbound",
        type: "GRAPH",
        mailbox: "outbound@acme.test",
        host: "127.0.0.1",
        port: port(),
        security: "tls",
        fromAddress: "outbound@acme.test",
        auth: signIn(),
        clientSecret: ms.clientSecret,
      });
      expect(res.statusCode, res.body).toBe(201);
      const test = (await s.api.post(`/api/v1/mailboxes/${res.json().id}/test`)).json();
      expect(test.ok, JSON.stringify(test)).toBe(true);
      await s.api.post("/api/v1/applications", { name: "sending", enabled: true, queueId: s.queueId, mailboxIds: [] });
      const agent = await s.t.tokenFor("agent");
      const sent = await s.t.request({
        method: "POST",
        url: "/api/v1/outbound",
        token: agent,
        payload: { from: "outbound@acme.test", to: [customer], bcc: ["hidden@elsewhere.test"], subject: "Through Graph", text: "Hello from Graph." },
      });
      expect(sent.statusCode, sent.body).toBe(202);
      await eventually(async () => ((await ms.get("/_emulator/sent")) as { from: string }[]).some((m) => m.from.includes("outbound@acme.test")), 20_000);
      const log = (await ms.get("/_emulator/sent")) as { from: string; to: string[]; bcc: string[]; mime: string }[];
      const mail = log.find((m) => m.from.includes("outbound@acme.test"))!;
      expect(mail.to.join(",")).toContain(customer);
      expect(mail.bcc.join(",")).toContain("hidden@elsewhere.test");
      await eventually(async () => (await s.t.request({ method: "GET", url: `/api/v1/outbound/${sent.json().outboundId}`, token: agent })).json().state === "sent", 10_000);
      // the customer, a user of the emulator, got it without the Bcc header
      const delivered = await ms.messages(customer);
      expect(delivered.map((m) => m.subject)).toEqual(["Through Graph"]);
      expect(Buffer.from(delivered[0]!.mimeBase64, "base64").toString("latin1")).not.toMatch(/hidden@elsewhere\.test/);
    } finally {
      await s.t.close();
    }
  });
});
