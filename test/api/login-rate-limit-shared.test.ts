import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LightMyRequestResponse } from "fastify";
import type { MailroomApp } from "../../src/app.js";
import type { Clock } from "../../src/shared/clock.js";
import { testDialects } from "../support/dialects.js";
import { createPeerApp, type PeerApp } from "../support/peer-app.js";
import { adminPassword, createTestApp, type TestApp } from "../support/test-app.js";

const limit = 4;

/** A wrong password for `username`, from inject's one address (127.0.0.1) */
const attempt = (app: MailroomApp, username: string): Promise<LightMyRequestResponse> =>
  app.http.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username, password: "wrong-password" } });

function expectLimited(res: LightMyRequestResponse, seconds: number): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.json()).toEqual({ error: { code: "rate_limited", message: `Too many sign-in attempts; try again in ${seconds} seconds.` } });
  expect(res.headers["retry-after"]).toBe(String(seconds));
}

describe.each(testDialects())("sign-in rate limit counted in the database (%s)", (dialect) => {
  let t: TestApp;
  let peer: PeerApp | undefined;
  let now = 0;
  const clock: Clock = { now: () => new Date(now) };
  beforeEach(() => {
    now = Date.parse("2031-05-01T08:00:00.000Z");
  });

  afterEach(async () => {
    await peer?.close();
    peer = undefined;
    await t?.close();
  });

  it("refuses the attempt after the limit, counts each username apart, and allows attempts again in the next window", async () => {
    t = await createTestApp(dialect, { loginRateLimitPerMinute: limit }, { clock });
    for (let i = 0; i < limit; i++) expect((await attempt(t.app, "admin")).statusCode).toBe(401);
    expectLimited(await attempt(t.app, "admin"), 60);
    // another username from the same address has attempts of its own
    expect((await attempt(t.app, "someone-else")).statusCode).toBe(401);
    // the count is in the database, one row per route, address and username
    const rows = await t.store.db.kysely.selectFrom("rate_limit_hits").select(["key", "hits"]).orderBy("key").execute();
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.key.endsWith("127.0.0.1|admin"))?.hits).toBe(limit + 1);
    expect(rows.find((r) => r.key.endsWith("127.0.0.1|someone-else"))?.hits).toBe(1);

    // the wait shrinks with the window, and a refused attempt does not lengthen it
    now += 45_000;
    expectLimited(await attempt(t.app, "admin"), 15);
    now += 15_000;
    expect((await attempt(t.app, "admin")).statusCode).toBe(401);
    // and the new window counts from one again
    for (let i = 1; i < limit; i++) expect((await attempt(t.app, "admin")).statusCode).toBe(401);
    expectLimited(await attempt(t.app, "admin"), 60);
  });

  it.runIf(dialect === "postgres")("counts the attempts made on two apps on one database together", async () => {
    t = await createTestApp(dialect, { loginRateLimitPerMinute: limit }, { clock });
    peer = await createPeerApp(t, {}, { clock });
    const apps = [t.app, peer.app];
    // alternately on each app: each saw only half of them
    for (let i = 0; i < limit; i++) expect((await attempt(apps[i % 2]!, "admin")).statusCode).toBe(401);
    expectLimited(await attempt(apps[limit % 2]!, "admin"), 60);
    expectLimited(await attempt(apps[(limit + 1) % 2]!, "admin"), 60);
    // the right password is refused too while the limit holds, on either app
    const right = await apps[0]!.http.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: adminPassword } });
    expect(right.statusCode).toBe(429);
    // another username is counted apart, on both apps
    for (const app of apps) expect((await attempt(app, "someone-else")).statusCode).toBe(401);
  });

  it("counts attempts made at the same moment exactly (PostgreSQL: on two apps)", async () => {
    t = await createTestApp(dialect, { loginRateLimitPerMinute: limit }, { clock });
    if (dialect === "postgres") peer = await createPeerApp(t, {}, { clock });
    const apps = peer ? [t.app, peer.app] : [t.app];
    const results = await Promise.all(Array.from({ length: 3 * limit }, (_, i) => attempt(apps[i % apps.length]!, "admin")));
    const codes = results.map((r) => r.statusCode);
    // no two attempts read the same count: exactly `limit` of them reach the password check
    expect(codes.filter((c) => c === 401)).toHaveLength(limit);
    expect(codes.filter((c) => c === 429)).toHaveLength(2 * limit);
  });
});
