import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { adminApi, createMailbox, createQueue, inboundImap, inboundPop3, outboundSmtp } from "../support/admin-api.js";
import { testDialects } from "../support/dialects.js";
import { adminPassword, createTestApp, type TestApp } from "../support/test-app.js";

/** Log lines at level error or worse: a 500 logs one with its stack. */
const errorLines = (t: TestApp) =>
  t
    .logText()
    .split("\n")
    .filter((l) => /"level":(50|60)/.test(l));

function expectError(res: { statusCode: number; json(): unknown }, status: number, code: string, what: string) {
  expect(res.statusCode, what).toBe(status);
  expect(res.json(), what).toMatchObject({ error: { code, message: expect.any(String) } });
}

/** Sends bytes on a raw connection and returns what came back before the server closed it. */
async function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("close", () => resolve(text));
    socket.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? resolve(text) : reject(err)));
  });
}

describe.each(testDialects())("bad input gets a clear 4xx (%s)", (dialect) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it("refuses NUL in bodies, query parameters and path ids with 400, before sign-in too, and logs no error", async () => {
    t = await createTestApp(dialect);
    const admin = await t.tokenFor("admin");
    const agent = await t.tokenFor("agent");
    const api = adminApi(t, admin);
    const queueId = await createQueue(api);
    const mailboxId = await createMailbox(api, inboundPop3());
    const cases: [string, () => ReturnType<TestApp["request"]>][] = [
      ["sign-in username", () => t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "ad\u0000min", password: "whatever-1" } })],
      ["sign-in password", () => t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: "x\u0000" } })],
      ["interaction id in the path", () => t.request({ method: "GET", url: "/api/v1/interactions/%00", token: agent })],
      ["cursor", () => t.request({ method: "GET", url: "/api/v1/interactions?cursor=%00", token: agent })],
      ["mailboxId filter", () => t.request({ method: "GET", url: `/api/v1/interactions?mailboxId=${mailboxId}%00`, token: agent })],
      ["mailbox search", () => t.request({ method: "GET", url: "/api/v1/mailboxes?q=a%00b", token: admin })],
      ["queue name", () => api.post("/api/v1/queues", { name: "Sales\u0000" })],
      ["folder name", () => api.post("/api/v1/business-attributes", { name: "\u0000" })],
      ["application name", () => api.post("/api/v1/applications", { name: "App\u0000", queueId })],
      ["mailbox login", () => api.patch(`/api/v1/mailboxes/${mailboxId}`, { mailbox: "a\u0000b", password: "pw-123456" })],
      ["mailbox password", () => api.patch(`/api/v1/mailboxes/${mailboxId}`, { password: "pw\u0000" })],
      ["a key of the body", () => api.patch(`/api/v1/mailboxes/${mailboxId}`, { "maxSizeMb\u0000": 6 })],
      ["a nested value", () => api.patch(`/api/v1/mailboxes/${mailboxId}`, { options: { folder: "IN\u0000BOX" } })],
      ["an unknown route", () => t.request({ method: "GET", url: "/api/v1/%00" })],
    ];
    for (const [what, send] of cases) {
      const res = await send();
      expectError(res, 400, "invalid_input", what);
      expect(JSON.stringify(res.json()), what).toMatch(/NUL/);
    }
    expect(errorLines(t)).toEqual([]);
    // and nothing was changed by any of them
    const mailbox = (await api.get(`/api/v1/mailboxes/${mailboxId}`)).json();
    expect(mailbox).toMatchObject({ mailbox: "esj-22-30", maxSizeMb: 5 });
    expect((await api.get("/api/v1/queues")).json().items).toHaveLength(1);
  });

  it("refuses control and bidi characters in names and display text, and line breaks in what a mail server receives", async () => {
    t = await createTestApp(dialect);
    const api = adminApi(t, await t.tokenFor("admin"));
    const queueId = await createQueue(api);
    const folder = (await api.post("/api/v1/business-attributes", { name: "Senders" })).json().id as string;
    const mailboxId = await createMailbox(api, inboundPop3());
    const bad = ["Sales\r\nBcc: x@example.com", "two\nlines", "ding\u0007", "\u202egpj.exe", "a\u2066b", "esc\u001b[31m", "c1\u0085"];
    for (const text of bad) {
      const shown = JSON.stringify(text);
      expectError(await api.post("/api/v1/queues", { name: text }), 400, "invalid_input", `queue ${shown}`);
      expectError(await api.post("/api/v1/applications", { name: text, queueId }), 400, "invalid_input", `application ${shown}`);
      expectError(await api.post("/api/v1/business-attributes", { name: text }), 400, "invalid_input", `folder ${shown}`);
      const value = await api.post(`/api/v1/business-attributes/${folder}/values`, { name: "help@acme.test", displayName: text });
      expectError(value, 400, "invalid_input", `From display name ${shown}`);
      const ack = await api.post("/api/v1/applications", { name: "Acks", queueId, autoAcknowledge: { enabled: true, subject: text, text: "Thanks" } });
      expectError(ack, 400, "invalid_input", `acknowledgement subject ${shown}`);
      expect(ack.json().error.details[0].path).toBe("autoAcknowledge.subject");
    }
    // USER a\r\nDELE 1 was once sent by the connection test
    const login = await api.patch(`/api/v1/mailboxes/${mailboxId}`, { mailbox: "a\r\nDELE 1", password: "pw-123456" });
    expectError(login, 400, "invalid_input", "login");
    expect(login.json().error.details[0].path).toBe("mailbox");
    for (const password of ["pw\r\nDELE 1", "pw\nQUIT"]) {
      const res = await api.patch(`/api/v1/mailboxes/${mailboxId}`, { password });
      expectError(res, 400, "invalid_input", JSON.stringify(password));
      expect(res.json().error.details[0].path).toBe("password");
    }
    expectError(await api.post("/api/v1/mailboxes", inboundImap({ name: "imap2", mailbox: "x\ry" })), 400, "invalid_input", "login at creation");
    expectError(await api.post("/api/v1/mailboxes", outboundSmtp({ password: "p\r\nRSET" })), 400, "invalid_input", "outbound password");
    expectError(await api.patch(`/api/v1/mailboxes/${mailboxId}`, { options: { folder: "INBOX\r\n" } }), 400, "invalid_input", "folder option");

    // what people write is still welcome: accents, scripts, dashes, emoji, right-to-left text without overrides
    for (const name of ["Support – Français", "サポート", "Ventas 🚀", "דואר נכנס"]) {
      expect((await api.post("/api/v1/queues", { name })).statusCode, name).toBe(201);
    }
    expect((await api.patch(`/api/v1/mailboxes/${mailboxId}`, { password: "päss wörd!\t%" })).statusCode).toBe(200);
  });

  it("answers errors of the HTTP layer itself in the contract's shape", async () => {
    t = await createTestApp(dialect);
    const agent = await t.tokenFor("agent");
    expectError(await t.request({ method: "GET", url: `/api/v1/interactions/${"x".repeat(300)}`, token: agent }), 414, "uri_too_long", "long id");
    expectError(await t.request({ method: "GET", url: "/api/v1/interactions/%E0%A4%A", token: agent }), 400, "invalid_input", "bad %-escape");
    expectError(await t.request({ method: "GET", url: "/api/v1/%zz" }), 400, "invalid_input", "bad %-escape, no route");
    const wrongType = await t.request({ method: "POST", url: "/api/v1/auth/login", headers: { "content-type": "application/xml" }, payload: "<admin/>" });
    expectError(wrongType, 415, "unsupported_media_type", "XML body");
    const broken = await t.request({ method: "POST", url: "/api/v1/auth/login", headers: { "content-type": "application/json" }, payload: "{" });
    expectError(broken, 400, "invalid_input", "broken JSON");

    const base = new URL(await t.app.http.listen({ port: 0, host: "127.0.0.1" }));
    const malformed = await rawExchange(Number(base.port), "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    expect(malformed).toMatch(/^HTTP\/1.1 400 /);
    expect(JSON.parse(malformed.slice(malformed.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code: "invalid_input" } });
    const huge = await rawExchange(Number(base.port), `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1.1 431 /);
    expect(JSON.parse(huge.slice(huge.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code: "headers_too_large" } });
  });

  it("limits bodies to 1 MB by default and sign-in passwords to 256 characters", async () => {
    t = await createTestApp(dialect);
    const big = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: "p".repeat(1_100_000) } });
    expectError(big, 413, "payload_too_large", "1.1 MB sign-in");
    const long = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: "p".repeat(257) } });
    expectError(long, 400, "invalid_input", "257-character password");
    expect(long.json().error.details[0].path).toBe("password");
    const admin = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: adminPassword } });
    expect(admin.statusCode).toBe(200);
    // under the limit, a large body reaches validation
    const api = adminApi(t, admin.json().token);
    const app = await api.post("/api/v1/applications", { name: "A", queueId: await createQueue(api), autoAcknowledge: { enabled: true, subject: "s", text: "t".repeat(900_000) } });
    expectError(app, 400, "invalid_input", "900 KB acknowledgement");
  });
});

describe("metrics need a scrape token or an admin", () => {
  let t: TestApp;
  afterEach(async () => t?.close());
  const scrapeToken = "scrape-token-0123456789abcdef";

  it("answers anonymous and non-admin callers without mailbox names, and admins and the scrape token with metrics", async () => {
    t = await createTestApp("sqlite", { metricsToken: scrapeToken });
    const get = (token?: string) => t.request({ method: "GET", url: "/metrics", token });
    expectError(await get(), 401, "unauthenticated", "anonymous");
    expectError(await get("not-the-token-at-all-1234"), 401, "unauthenticated", "wrong token");
    expectError(await get(await t.tokenFor("agent")), 403, "forbidden", "agent");
    expectError(await get(await t.tokenFor("supervisor")), 403, "forbidden", "supervisor");
    for (const [who, token] of [
      ["admin", await t.tokenFor("admin")],
      ["scrape token", scrapeToken],
    ]) {
      const res = await get(token);
      expect(res.statusCode, who).toBe(200);
      expect(res.body, who).toContain("process_cpu_user_seconds_total");
    }
    const byCookie = await t.request({ method: "GET", url: "/metrics", cookies: { mailroom_session: await t.tokenFor("admin") } });
    expect(byCookie.statusCode).toBe(200);
    // the scrape token opens metrics and nothing else
    expectError(await t.request({ method: "GET", url: "/api/v1/mailboxes", token: scrapeToken }), 401, "unauthenticated", "scrape token on the API");
  });

  it("serves no metrics to a token without MAILROOM_METRICS_TOKEN configured", async () => {
    t = await createTestApp("sqlite");
    expectError(await t.request({ method: "GET", url: "/metrics", token: scrapeToken }), 401, "unauthenticated", "unconfigured token");
  });
});

describe("sign-in rate limit behind a reverse proxy", () => {
  let t: TestApp;
  afterEach(async () => t?.close());
  const attempt = (from: string) =>
    t.request({ method: "POST", url: "/api/v1/auth/login", headers: { "x-forwarded-for": from }, payload: { username: "admin", password: "wrong-pass" } });

  it("counts each client behind a trusted proxy on its own", async () => {
    t = await createTestApp("sqlite", { loginRateLimitPerMinute: 2, trustProxy: ["127.0.0.1"] });
    for (let i = 0; i < 2; i++) expect((await attempt("203.0.113.1")).statusCode).toBe(401);
    expect((await attempt("203.0.113.1")).statusCode).toBe(429);
    expect((await attempt("203.0.113.2")).statusCode).toBe(401);
  });

  it("believes no X-Forwarded-For by default: a client cannot pick another address to dodge the limit", async () => {
    t = await createTestApp("sqlite", { loginRateLimitPerMinute: 2 });
    for (let i = 0; i < 2; i++) expect((await attempt(`198.51.100.${i}`)).statusCode).toBe(401);
    expect((await attempt("198.51.100.9")).statusCode).toBe(429);
  });
});

