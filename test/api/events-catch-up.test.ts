import { afterEach, describe, expect, it } from "vitest";
import type { MailroomApp } from "../../src/app.js";
import type { MailroomEvent } from "../../src/shared/event-bus.js";
import { testDialects } from "../support/dialects.js";
import { EventStreamReader, type StreamEvent } from "../support/event-stream-reader.js";
import { createPeerApp, type PeerApp } from "../support/peer-app.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

const status = (message: string): MailroomEvent => ({ type: "mailbox.status", mailboxId: "mb-1", state: "ok", code: null, message });

describe.each(testDialects())("event stream catch-up with Last-Event-ID (%s)", (dialect) => {
  let t: TestApp;
  let peer: PeerApp | undefined;
  const aborts: AbortController[] = [];
  const bases = new Map<MailroomApp, string>();

  afterEach(async () => {
    for (const a of aborts.splice(0)) a.abort();
    bases.clear();
    await peer?.close();
    peer = undefined;
    await t?.close();
  });

  async function start(): Promise<void> {
    t = await createTestApp(dialect);
    bases.set(t.app, await t.app.http.listen({ port: 0, host: "127.0.0.1" }));
  }

  async function openStream(app: MailroomApp, token: string, lastEventId?: string): Promise<EventStreamReader> {
    const abort = new AbortController();
    aborts.push(abort);
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    const res = await fetch(`${bases.get(app)}/api/v1/events`, { headers, signal: abort.signal });
    expect(res.status).toBe(200);
    const stream = new EventStreamReader(res.body!.getReader());
    await stream.connected();
    return stream;
  }

  async function read(stream: EventStreamReader, count: number): Promise<StreamEvent[]> {
    const out: StreamEvent[] = [];
    while (out.length < count) out.push(await stream.next());
    return out;
  }

  /**
   * Publishes three status events on `app` and returns them as `stream` got them. One at a time: on
   * PostgreSQL, events published at once may be committed, and so delivered, in another order.
   */
  async function publishThree(app: MailroomApp, stream: EventStreamReader): Promise<StreamEvent[]> {
    const got: StreamEvent[] = [];
    for (const m of ["one", "two", "three"]) {
      app.events.publish(status(m));
      got.push(await stream.next());
    }
    expect(got.map((e) => e.data)).toEqual(["one", "two", "three"].map(status));
    for (const e of got) expect(e.id).toMatch(/\S/);
    expect(new Set(got.map((e) => e.id)).size).toBe(3);
    return got;
  }

  it("gives a client that reconnects with Last-Event-ID the events after it, in order, before new ones", async () => {
    await start();
    const token = await t.tokenFor("supervisor");
    const first = await openStream(t.app, token);
    const [one, two, three] = await publishThree(t.app, first);

    const again = await openStream(t.app, token, one!.id);
    t.app.events.publish(status("four"));
    const caughtUp = await read(again, 3);
    const four = await first.next();
    expect(caughtUp.map((e) => [e.id, e.data])).toEqual([
      [two!.id, status("two")],
      [three!.id, status("three")],
      [four.id, status("four")],
    ]);

    // from the last one: nothing to catch up on, and no resync
    const upToDate = await openStream(t.app, token, four.id);
    t.app.events.publish(status("five"));
    expect((await upToDate.next()).data).toEqual(status("five"));
  });

  it("tells a client whose Last-Event-ID is unknown here to read afresh", async () => {
    await start();
    const token = await t.tokenFor("supervisor");
    const first = await openStream(t.app, token);
    await publishThree(t.app, first);

    const stale = await openStream(t.app, token, "some-node-that-never-was-1");
    expect(await stale.next()).toMatchObject({ type: "resync", data: { type: "resync" } });
    t.app.events.publish(status("after"));
    expect((await stale.next()).data).toEqual(status("after"));
  });

  it("never writes graph.notifications to a stream, live or caught up", async () => {
    await start();
    const token = await t.tokenFor("supervisor");
    const live = await openStream(t.app, token);
    t.app.events.publish(status("before"));
    const before = await live.next();
    const delivered = new Promise<void>((resolve) => {
      const off = t.app.events.on("graph.notifications", () => {
        off();
        resolve();
      });
    });
    t.app.events.publish({ type: "graph.notifications", kind: "changes", items: [{ subscriptionId: "sub-1", clientState: "planted-client-state" }] });
    // the node has the notification (and handed it to the stream's listener) before "after" is published
    await delivered;
    t.app.events.publish(status("after"));
    // the next frame after "before" is "after": the notification in between was not written
    expect((await live.next()).data).toEqual(status("after"));

    const caughtUp = await openStream(t.app, token, before.id);
    expect((await caughtUp.next()).data).toEqual(status("after"));
    t.app.events.publish(status("later"));
    expect((await caughtUp.next()).data).toEqual(status("later"));
  });

  it.runIf(dialect === "postgres")("carries events between two apps on one database, and catches a client up on the other app", async () => {
    await start();
    peer = await createPeerApp(t);
    const b = peer.app;
    bases.set(b, await b.http.listen({ port: 0, host: "127.0.0.1" }));
    // the session is in the database: one token signs in on both apps
    const token = await t.tokenFor("supervisor");
    const onA = await openStream(t.app, token);
    const onB = await openStream(b, token);

    const fromA = await publishThree(t.app, onA);
    const seenOnB = await read(onB, 3);
    // the same events with the same ids on the other app
    expect(seenOnB).toEqual(fromA);

    // a client that got its last id from A reconnects to B
    const reconnected = await openStream(b, token, fromA[0]!.id);
    expect(await read(reconnected, 2)).toEqual(fromA.slice(1));

    // and the other way: published on B, heard on A
    b.events.publish(status("from b"));
    const heardOnA = await onA.next();
    expect(heardOnA.data).toEqual(status("from b"));
    expect(await reconnected.next()).toEqual(heardOnA);
  });
});
