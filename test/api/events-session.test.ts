import { afterEach, describe, expect, it } from "vitest";
import type { AppDeps } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import type { Clock } from "../../src/shared/clock.js";
import { testDialects } from "../support/dialects.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

// so long that no stream in these tests could end by its periodic check: an end seen here came at once
const noPeriodicCheck = 3_600_000;

describe.each(testDialects())("event stream ends with its session (%s)", (dialect) => {
  let t: TestApp;
  let base: string;
  const aborts: AbortController[] = [];
  afterEach(async () => {
    for (const a of aborts.splice(0)) a.abort();
    await t?.close();
  });

  async function start(overrides: Partial<Config>, deps: Partial<AppDeps>): Promise<void> {
    t = await createTestApp(dialect, overrides, deps);
    base = await t.app.http.listen({ port: 0, host: "127.0.0.1" });
  }

  async function signIn(username: string, password: string): Promise<string> {
    const res = await t.request({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ token: string }>().token;
  }

  /** Opens a stream and waits for ": connected", which the server writes once the stream listens. */
  async function openStream(token: string): Promise<ReadableStreamDefaultReader<Uint8Array>> {
    const abort = new AbortController();
    aborts.push(abort);
    const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain(": connected");
    return reader;
  }

  /** Resolves when the server ends the stream; the test's timeout bounds a stream that never ends. */
  async function streamEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    for (;;) if ((await reader.read()).done) return;
  }

  it("ends the stream of a session at once when it signs out, and only that one", async () => {
    await start({}, { sessionCheckMs: noPeriodicCheck });
    const agent = await t.tokenFor("agent");
    const other = await signIn("agent1", "agent-password-1");
    const ending = await openStream(agent);
    await openStream(other);
    expect(t.app.events.size).toBe(2);
    expect((await t.request({ method: "POST", url: "/api/v1/auth/logout", token: agent })).statusCode).toBe(204);
    await streamEnd(ending);
    expect(t.app.events.size).toBe(1);
  });

  it("ends every stream of a user at once when an admin disables them", async () => {
    await start({}, { sessionCheckMs: noPeriodicCheck });
    const admin = await t.tokenFor("admin");
    const agent = await t.tokenFor("agent");
    const agentId = (await t.app.services.users.store.byUsername("agent1"))!.id;
    const streams = [await openStream(agent), await openStream(await signIn("agent1", "agent-password-1"))];
    await openStream(admin);
    expect((await t.request({ method: "PATCH", url: `/api/v1/users/${agentId}`, token: admin, payload: { disabled: true } })).statusCode).toBe(200);
    await Promise.all(streams.map(streamEnd));
    expect(t.app.events.size).toBe(1);
  });

  it("ends the streams of a user whose password an admin resets, and the other sessions' streams when they change their own", async () => {
    await start({}, { sessionCheckMs: noPeriodicCheck });
    const admin = await t.tokenFor("admin");
    const agent = await t.tokenFor("agent");
    const agentId = (await t.app.services.users.store.byUsername("agent1"))!.id;
    const reset = await openStream(agent);
    const res = await t.request({ method: "POST", url: `/api/v1/users/${agentId}/password`, token: admin, payload: { password: "reset-Password-5" } });
    expect(res.statusCode).toBe(204);
    await streamEnd(reset);

    const here = await signIn("agent1", "reset-Password-5");
    const elsewhere = await signIn("agent1", "reset-Password-5");
    await openStream(here);
    const other = await openStream(elsewhere);
    const changed = await t.request({
      method: "POST",
      url: "/api/v1/me/password",
      token: here,
      payload: { currentPassword: "reset-Password-5", newPassword: "changed-Password-6" },
    });
    expect(changed.statusCode).toBe(204);
    await streamEnd(other);
    expect(t.app.events.size).toBe(1);
  });

  it("ends the stream at its next session check once the session has expired", async () => {
    let now = Date.parse("2031-03-01T09:00:00.000Z");
    const clock: Clock = { now: () => new Date(now) };
    await start({ sessionHours: 1 }, { clock, sessionCheckMs: 5 });
    const agent = await t.tokenFor("agent");
    const reader = await openStream(agent);
    // count the stream's checks, to see it stay open while its session lives
    const auth = t.app.services.auth;
    const check = auth.principalForSession.bind(auth);
    let checks = 0;
    let twoChecked!: () => void;
    const checkedTwice = new Promise<void>((resolve) => (twoChecked = resolve));
    auth.principalForSession = async (sessionHash) => {
      const principal = await check(sessionHash);
      if (++checks === 2) twoChecked();
      return principal;
    };
    await checkedTwice;
    expect(t.app.events.size).toBe(1);

    now += 61 * 60_000;
    await streamEnd(reader);
    expect(t.app.events.size).toBe(0);
  });

  it("ends the stream at its next session check when the session ended elsewhere (another node)", async () => {
    await start({}, { sessionCheckMs: 5 });
    const agent = await t.tokenFor("agent");
    const reader = await openStream(agent);
    // another node signs the session out: this node's notifier never hears of it
    await t.store.db.kysely.deleteFrom("sessions").execute();
    await streamEnd(reader);
    expect(t.app.events.size).toBe(0);
  });
});
