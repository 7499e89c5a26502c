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
    expect(text).toContain('event: interaction.created\ndata: {"type":"interaction.created","mailboxId":"mb1","interactionIds":["i1"]}');
    abort.abort();
    const deadline = Date.now() + 5000;
    while (t.app.events.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(t.app.events.size).toBe(0);
  });
});
