import { afterEach, describe, expect, it } from "vitest";
import type { AppDeps } from "../../src/app.js";
import type { MailroomEvent } from "../../src/shared/event-bus.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

/** One event stream, read as far as a marker event. */
interface Stream {
  /** the `data:` of every event up to and including the one whose text contains `marker` */
  until(marker: string): Promise<unknown[]>;
}

describe("what the event stream sends each role", () => {
  let t: TestApp;
  let base: string;
  const aborts: AbortController[] = [];
  afterEach(async () => {
    for (const a of aborts.splice(0)) a.abort();
    await t?.close();
  });

  async function start(deps: Partial<AppDeps> = {}): Promise<void> {
    t = await createTestApp("sqlite", {}, deps);
    base = await t.app.http.listen({ port: 0, host: "127.0.0.1" });
  }

  async function openStream(token: string): Promise<Stream> {
    const abort = new AbortController();
    aborts.push(abort);
    const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    // ": connected" is written once the stream listens: what is published after it reaches the stream
    while (!buffered.includes(": connected\n\n")) buffered += decoder.decode((await reader.read()).value, { stream: true });
    buffered = buffered.slice(buffered.indexOf(": connected\n\n") + ": connected\n\n".length);
    return {
      async until(marker) {
        const events: unknown[] = [];
        for (;;) {
          const end = buffered.indexOf("\n\n");
          if (end < 0) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`the stream ended before ${marker}`);
            buffered += decoder.decode(value, { stream: true });
            continue;
          }
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block.split("\n").find((line) => line.startsWith("data: "));
          if (!data) continue; // a comment (keep-alive)
          events.push(JSON.parse(data.slice("data: ".length)));
          if (data.includes(marker)) return events;
        }
      },
    };
  }

  const mailboxStatus: MailroomEvent = { type: "mailbox.status", mailboxId: "mb1", state: "error", code: "auth_failed", message: "LOGIN failed for support@imap.acme.test" };
  const created: MailroomEvent = { type: "interaction.created", mailboxId: "mb1", interactionIds: ["i1"] };
  const updated: MailroomEvent = { type: "interaction.updated", interactionId: "i1", state: "assigned", queueId: "q-billing", agentId: "u-other", action: "accept" };
  const outbound: MailroomEvent = { type: "outbound.updated", outboundId: "o1", interactionId: "i1", state: "failed" };
  const marker = (n: number): MailroomEvent => ({ type: "interaction.created", mailboxId: "mb1", interactionIds: [`marker-${n}`] });

  it("sends an agent no mailbox event and only the type and ids of the others; a supervisor and an admin get every event whole", async () => {
    await start();
    const agent = await openStream(await t.tokenFor("agent"));
    const supervisor = await openStream(await t.tokenFor("supervisor"));
    const admin = await openStream(await t.tokenFor("admin"));
    for (const event of [mailboxStatus, created, updated, outbound, { type: "mailboxes.changed" } as const, marker(1)]) t.app.events.publish(event);

    expect(await agent.until("marker-1")).toEqual([
      { type: "interaction.created", interactionIds: ["i1"] },
      { type: "interaction.updated", interactionId: "i1" },
      { type: "outbound.updated", outboundId: "o1", interactionId: "i1" },
      { type: "interaction.created", interactionIds: ["marker-1"] },
    ]);
    const whole = [mailboxStatus, created, updated, outbound, { type: "mailboxes.changed" }, marker(1)];
    expect(await supervisor.until("marker-1")).toEqual(whole);
    expect(await admin.until("marker-1")).toEqual(whole);
  });

  it("sends by the role the user has now: a supervisor made an agent gets no mailbox event from the stream's next session check", async () => {
    await start({ sessionCheckMs: 5 });
    const admin = await t.tokenFor("admin");
    const supervisor = await openStream(await t.tokenFor("supervisor"));
    const supervisorId = (await t.app.services.users.store.byUsername("supervisor1"))!.id;
    t.app.events.publish(mailboxStatus);
    t.app.events.publish(marker(0));
    expect(await supervisor.until("marker-0")).toEqual([mailboxStatus, marker(0)]);

    const res = await t.request({ method: "PATCH", url: `/api/v1/users/${supervisorId}`, token: admin, payload: { role: "agent" } });
    expect(res.statusCode, res.body).toBe(200);
    // the stream learns of the new role at a session check; each round shows whether it has yet
    for (let n = 1; ; n++) {
      t.app.events.publish(mailboxStatus);
      t.app.events.publish(marker(n));
      const round = await supervisor.until(`marker-${n}`);
      if (round.length === 1) {
        expect(round).toEqual([{ type: "interaction.created", interactionIds: [`marker-${n}`] }]);
        break;
      }
      expect(round).toEqual([mailboxStatus, marker(n)]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
});
