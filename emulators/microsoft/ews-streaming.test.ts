import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { appToken, call, deliver, sampleMime, startTestEmulator, testSeed, type TestEmulator } from "./graph-test-support.js";
import { basicFor, ews, messages, parseSoap, soap, StreamReader, streamXml, subscribeXml, success } from "./ews-test-support.js";

const WATCHER = { id: "d1d1d1d1-0000-4000-8000-000000000001", mail: "watcher@contoso.test" };
const QUEUED = { id: "d1d1d1d1-0000-4000-8000-000000000002", mail: "queued@contoso.test" };
const DROPPED = { id: "d1d1d1d1-0000-4000-8000-000000000003", mail: "dropped@contoso.test" };
const IDLE = { id: "d1d1d1d1-0000-4000-8000-000000000004", mail: "idle@contoso.test" };

let t: TestEmulator;
const readers: StreamReader[] = [];

beforeAll(async () => {
  t = await startTestEmulator({ seed: testSeed([WATCHER, QUEUED, DROPPED, IDLE]) });
});

afterEach(async () => {
  for (const r of readers.splice(0)) r.destroy();
  await call(t.emulator, "POST", "/_emulator/ews/streaming", { body: { heartbeatSeconds: 5, closeAfterMs: null } });
});

afterAll(async () => {
  await t.close();
});

async function subscribe(user: string, folder = "inbox", types = ["NewMailEvent", "CreatedEvent", "ModifiedEvent", "DeletedEvent"]): Promise<string> {
  return success(await ews(t.emulator, subscribeXml(folder, types), { auth: basicFor(user) }), "Subscribe").SubscriptionId as string;
}

async function stream(user: string, ids: string[], minutes = 30): Promise<StreamReader> {
  const reader = await new StreamReader().open(t.emulator, streamXml(ids, minutes), basicFor(user));
  readers.push(reader);
  return reader;
}

/** The GetStreamingEventsResponseMessage of one envelope. */
const messageOf = (envelope: string) => parseSoap(envelope).Envelope.Body.GetStreamingEventsResponse.ResponseMessages.GetStreamingEventsResponseMessage[0];
const hasEvent = (type: string, id: string) => (envelope: string) => envelope.includes(`<t:${type}>`) && envelope.includes(`Id="${id}"`);

describe("streaming notifications", () => {
  it("streams an event a few moments after mail arrives, one complete envelope at a time", async () => {
    const id = await subscribe(WATCHER.mail);
    const reader = await stream(WATCHER.mail, [id]);
    expect(reader.status).toBe(200);
    expect(reader.headers["content-type"]).toBe("text/xml; charset=utf-8");
    expect(reader.headers["transfer-encoding"]).toBe("chunked");

    const messageId = await deliver(t.emulator, WATCHER.mail, sampleMime("Streamed", { to: WATCHER.mail }));
    const { envelope } = await reader.next(hasEvent("NewMailEvent", messageId), 0, "the NewMailEvent");
    expect(envelope.startsWith('<?xml version="1.0" encoding="utf-8"?><s:Envelope')).toBe(true);
    const message = messageOf(envelope);
    expect(message).toMatchObject({ "@ResponseClass": "Success", ResponseCode: "NoError", ConnectionStatus: "OK" });
    const notification = message.Notifications.Notification[0];
    expect(notification.SubscriptionId).toBe(id);
    const stored = t.emulator.state.messages.get(messageId);
    expect(notification.NewMailEvent.ItemId).toEqual({ "@Id": messageId, "@ChangeKey": stored?.changeKey });
    expect(notification.NewMailEvent.ParentFolderId["@Id"]).toBeTruthy();
    expect(notification.NewMailEvent.TimeStamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(notification.NewMailEvent.Watermark).toBeTruthy();
    expect(notification.CreatedEvent.ItemId["@Id"]).toBe(messageId);

    // a read flag change made through Graph is a ModifiedEvent; a delete a DeletedEvent
    const graph = appToken(t.emulator);
    await call(t.emulator, "PATCH", `/v1.0/users/${WATCHER.id}/messages/${messageId}`, { token: graph, body: { isRead: true } });
    await reader.next(hasEvent("ModifiedEvent", messageId), 0, "the ModifiedEvent");
    await call(t.emulator, "DELETE", `/v1.0/users/${WATCHER.id}/messages/${messageId}`, { token: graph });
    await reader.next(hasEvent("DeletedEvent", messageId), 0, "the DeletedEvent");
  });

  it("sends what was queued while no stream was open at once on connect, only the event types asked for", async () => {
    const id = await subscribe(QUEUED.mail, "inbox", ["NewMailEvent"]);
    const first = await deliver(t.emulator, QUEUED.mail, sampleMime("Queued 1", { to: QUEUED.mail }));
    const second = await deliver(t.emulator, QUEUED.mail, sampleMime("Queued 2", { to: QUEUED.mail }));
    // another folder's mail is not this subscription's
    await call(t.emulator, "POST", "/_emulator/deliver", { body: { to: QUEUED.mail, folder: "sentitems", mime: sampleMime("Elsewhere", { to: QUEUED.mail }) } });
    const list = (await call(t.emulator, "GET", "/_emulator/ews/subscriptions")).json as { id: string; queued: number; connected: boolean }[];
    expect(list.find((s) => s.id === id)).toMatchObject({ queued: 2, connected: false });

    const reader = await stream(QUEUED.mail, [id]);
    const { envelope } = await reader.next((e) => e.includes("<m:Notifications>"), 0, "the queued events");
    const events = messageOf(envelope).Notifications.Notification[0];
    expect(events.CreatedEvent).toBeUndefined();
    const ids = (Array.isArray(events.NewMailEvent) ? events.NewMailEvent : [events.NewMailEvent]).map((e: { ItemId: { "@Id": string } }) => e.ItemId["@Id"]);
    expect(ids).toEqual([first, second]);
  });

  it("sends heartbeats, and at the end of the connection's time a last envelope saying Closed", async () => {
    await call(t.emulator, "POST", "/_emulator/ews/streaming", { body: { heartbeatSeconds: 0.05 } });
    const id = await subscribe(WATCHER.mail);
    const reader = await stream(WATCHER.mail, [id], 1);
    const isHeartbeat = (e: string) => messageOf(e).ConnectionStatus === "OK" && !e.includes("Notifications");
    const first = await reader.next(isHeartbeat, 0, "a heartbeat");
    await reader.next(isHeartbeat, first.index + 1, "a second heartbeat");
    reader.destroy();

    // the connection's time, shortened for the test; the same subscription outlives its connection
    await call(t.emulator, "POST", "/_emulator/ews/streaming", { body: { heartbeatSeconds: 60, closeAfterMs: 50 } });
    const short = await stream(WATCHER.mail, [id], 1);
    await short.end();
    expect(messageOf(short.envelopes.at(-1) as string)).toMatchObject({ "@ResponseClass": "Success", ResponseCode: "NoError", ConnectionStatus: "Closed" });
  });

  it("a dropped subscription ends its stream with ErrorSubscriptionNotFound, and is gone afterwards", async () => {
    const id = await subscribe(DROPPED.mail);
    const reader = await stream(DROPPED.mail, [id]);
    const dropped = await call(t.emulator, "POST", "/_emulator/ews/drop-subscriptions", { body: { user: DROPPED.mail } });
    expect(dropped.json).toEqual({ dropped: 1 });
    await reader.end();
    const last = messageOf(reader.envelopes.at(-1) as string);
    expect(last).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorSubscriptionNotFound", ErrorSubscriptionIds: { SubscriptionId: id } });

    const again = await ews(t.emulator, streamXml([id]), { auth: basicFor(DROPPED.mail) });
    expect(again.status).toBe(200);
    expect(messages(again, "GetStreamingEvents")[0]).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorSubscriptionNotFound" });
  });

  it("Unsubscribe removes one subscription; an unknown one is ErrorSubscriptionNotFound; pull subscriptions are not offered", async () => {
    const id = await subscribe(WATCHER.mail);
    const unsubscribe = (sub: string) => ews(t.emulator, soap(`<m:Unsubscribe><m:SubscriptionId>${sub}</m:SubscriptionId></m:Unsubscribe>`), { auth: basicFor(WATCHER.mail) });
    success(await unsubscribe(id), "Unsubscribe");
    expect(messages(await unsubscribe(id), "Unsubscribe")[0].ResponseCode).toBe("ErrorSubscriptionNotFound");
    const pull = await ews(
      t.emulator,
      soap(`<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>`),
      { auth: basicFor(WATCHER.mail) },
    );
    expect(messages(pull, "Subscribe")[0].ResponseCode).toBe("ErrorInvalidSubscriptionRequest");
  });

  it("a subscription without a connection for 30 minutes (emulator clock) expires", async () => {
    const id = await subscribe(IDLE.mail);
    t.emulator.state.clockOffsetMs += 31 * 60_000;
    try {
      const r = await ews(t.emulator, streamXml([id]), { auth: basicFor(IDLE.mail) });
      expect(messages(r, "GetStreamingEvents")[0].ResponseCode).toBe("ErrorSubscriptionNotFound");
    } finally {
      t.emulator.state.clockOffsetMs -= 31 * 60_000;
    }
  });

  it("closing the emulator ends an open stream", async () => {
    const own = await startTestEmulator({ seed: testSeed([WATCHER]) });
    let closed = false;
    try {
      const id = success(await ews(own.emulator, subscribeXml("inbox", ["NewMailEvent"]), { auth: basicFor(WATCHER.mail) }), "Subscribe").SubscriptionId as string;
      const reader = await new StreamReader().open(own.emulator, streamXml([id]), basicFor(WATCHER.mail));
      readers.push(reader);
      await own.close();
      closed = true;
      await reader.end();
      expect(reader.ended).toBe(true);
    } finally {
      if (!closed) await own.close();
    }
  });
});
