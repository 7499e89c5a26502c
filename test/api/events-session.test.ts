import { afterEach, describe, expect, it } from "vitest";
import type { AppDeps } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import type { Clock } from "../../src/shared/clock.js";
import type { MailroomEvent } from "../../src/shared/event-bus.js";
import { testDialects } from "../support/dialects.js";
import { EventStreamReader } from "../support/event-stream-reader.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

// so long that no stream in these tests could end by its periodic check: an end seen here came at once
const noPeriodicCheck = 3_600_000;

describe.each(testDialects())("event stream: it ends with its session, and sends by its user's role (%s)", (dialect) => {
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
  async function openStream(token: string): Promise<EventStreamReader> {
    const abort = new AbortController();
    aborts.push(abort);
    const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const stream = new EventStreamReader(res.body!.getReader());
    await stream.connected();
    return stream;
  }

  it("ends the stream of a session at once when it signs out, and only that one", async () => {
    await start({}, { sessionCheckMs: noPeriodicCheck });
    const agent = await t.tokenFor("agent");
    const other = await signIn("agent1", "agent-password-1");
    const ending = await openStream(agent);
    await openStream(other);
    expect(t.app.events.size).toBe(2);
    expect((await t.request({ method: "POST", url: "/api/v1/auth/logout", token: agent })).statusCode).toBe(204);
    await ending.ended();
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
    await Promise.all(streams.map((s) => s.ended()));
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
    await reset.ended();

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
    await other.ended();
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
    await reader.ended();
    expect(t.app.events.size).toBe(0);
  });

  it("ends the stream at its next session check when the session ended elsewhere (another node)", async () => {
    await start({}, { sessionCheckMs: 5 });
    const agent = await t.tokenFor("agent");
    const reader = await openStream(agent);
    // another node signs the session out: this node's notifier never hears of it
    await t.store.db.kysely.deleteFrom("sessions").execute();
    await reader.ended();
    expect(t.app.events.size).toBe(0);
  });

  const mailboxStatus: MailroomEvent = { type: "mailbox.status", mailboxId: "mb1", state: "error", code: "auth_failed", message: "LOGIN failed for support@imap.acme.test" };
  const created: MailroomEvent = { type: "interaction.created", mailboxId: "mb1", interactionIds: ["i1"] };
  const updated: MailroomEvent = { type: "interaction.updated", interactionId: "i1", state: "assigned", queueId: "q-billing", agentId: "u-other", action: "accept" };
  const outbound: MailroomEvent = { type: "outbound.updated", outboundId: "o1", interactionId: "i1", state: "failed" };
  /** the last event of a round: what came before it on a stream is all there is of the round */
  const marker = (n: number): MailroomEvent => ({ type: "interaction.created", mailboxId: "mb1", interactionIds: [`marker-${n}`] });
  const isMarker = (n: number) => (data: unknown) => JSON.stringify(data).includes(`"marker-${n}"`);

  it("sends an agent no mailbox event and only the type and ids of the others; a supervisor and an admin get every event whole", async () => {
    await start({}, { sessionCheckMs: noPeriodicCheck });
    const agent = await openStream(await t.tokenFor("agent"));
    const supervisor = await openStream(await t.tokenFor("supervisor"));
    const admin = await openStream(await t.tokenFor("admin"));
    const round: MailroomEvent[] = [mailboxStatus, created, updated, outbound, { type: "mailboxes.changed" }, marker(1)];
    // one at a time: on PostgreSQL, events published at once may be delivered in another order
    for (const event of round) {
      t.app.events.publish(event);
      await admin.next();
    }

    expect(await agent.until(isMarker(1))).toEqual([
      { type: "interaction.created", interactionIds: ["i1"] },
      { type: "interaction.updated", interactionId: "i1" },
      { type: "outbound.updated", outboundId: "o1", interactionId: "i1" },
      { type: "interaction.created", interactionIds: ["marker-1"] },
    ]);
    expect(await supervisor.until(isMarker(1))).toEqual(round);
  });

  it("sends by the role the user has now: a supervisor made an agent gets no mailbox event from the stream's next session check", async () => {
    await start({}, { sessionCheckMs: 5 });
    const admin = await openStream(await t.tokenFor("admin"));
    const supervisor = await openStream(await t.tokenFor("supervisor"));
    const supervisorId = (await t.app.services.users.store.byUsername("supervisor1"))!.id;
    /** publishes a mailbox event and a marker, one at a time, and answers what the supervisor's stream got */
    const round = async (n: number) => {
      for (const event of [mailboxStatus, marker(n)]) {
        t.app.events.publish(event);
        await admin.next();
      }
      return supervisor.until(isMarker(n));
    };
    expect(await round(0)).toEqual([mailboxStatus, marker(0)]);

    const res = await t.request({ method: "PATCH", url: `/api/v1/users/${supervisorId}`, token: await t.tokenFor("admin"), payload: { role: "agent" } });
    expect(res.statusCode, res.body).toBe(200);
    // the stream learns of the new role at a session check, which may fall inside a round; each round
    // shows whether it has yet
    const asAgent = (n: number) => ({ type: "interaction.created", interactionIds: [`marker-${n}`] });
    for (let n = 1; ; n++) {
      const got = await round(n);
      if (got.length === 1) {
        expect(got).toEqual([asAgent(n)]);
        break;
      }
      expect([[mailboxStatus, marker(n)], [mailboxStatus, asAgent(n)]]).toContainEqual(got);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
});
