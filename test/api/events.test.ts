import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../support/test-app.js";

describe("event stream", () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp("sqlite");
    base = await t.app.http.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => t?.close());

  it("streams published events to a signed-in client and lets go of it when it disconnects", async () => {
    const token = await t.tokenFor("agent");
    const abort = new AbortController();
    const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const first = await reader.read(); // ": connected" means the subscription exists
    text += decoder.decode(first.value);
    expect(t.app.events.size).toBe(1);
    t.app.events.publish({ type: "interaction.created", mailboxId: "mb1", interactionIds: ["i1"] });
    while (!text.includes("interaction.created")) text += decoder.decode((await reader.read()).value);
    // an agent's view of it (what each role gets: events-session.test.ts)
    expect(text).toContain('event: interaction.created\ndata: {"type":"interaction.created","interactionIds":["i1"]}');
    abort.abort();
    const deadline = Date.now() + 5000;
    while (t.app.events.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(t.app.events.size).toBe(0);
  });

  it("ends its open streams when the node stops, instead of waiting for every browser to go", async () => {
    const own = await createTestApp("sqlite");
    try {
      const ownBase = await own.app.http.listen({ port: 0, host: "127.0.0.1" });
      const res = await fetch(`${ownBase}/api/v1/events`, { headers: { authorization: `Bearer ${await own.tokenFor("agent")}` } });
      const reader = res.body!.getReader();
      await reader.read(); // ": connected"
      // the stream stays open from the client's side; closing the app must still finish, and end it
      await own.app.close();
      let done = false;
      while (!done) done = (await reader.read()).done;
      expect(own.app.events.size).toBe(0);
    } finally {
      await own.store.cleanup();
    }
  });
});
