import { describe, expect, it } from "vitest";
import { retryDelayMs } from "./graph-client.js";
import { GraphNotificationHub } from "./graph-notifications.js";
import { withBcc } from "../mail-sender.js";

describe("Graph's Retry-After", () => {
  it("waits as long as Graph says (at most a minute), else 1, 2, 4 … 30 s", () => {
    expect(retryDelayMs({ headers: { "retry-after": "3" } }, 1)).toBe(3000);
    expect(retryDelayMs({ headers: { "retry-after": "0" } }, 4)).toBe(0);
    expect(retryDelayMs({ headers: { "retry-after": "600" } }, 1)).toBe(60_000);
    expect([1, 2, 3, 6, 9].map((attempt) => retryDelayMs({ headers: {} }, attempt))).toEqual([1000, 2000, 4000, 30_000, 30_000]);
    expect(retryDelayMs({ headers: { "retry-after": "Wed, 21 Oct 2026 07:28:00 GMT" } }, 2)).toBe(2000);
  });
});

describe("sendMail recipients", () => {
  const raw = Buffer.from("From: a@acme.test\r\nTo: Ann <ann@customer.test>,\r\n bob@customer.test\r\nCc: carl@customer.test\r\nSubject: x\r\n\r\nTo: not-a-header@x.test\r\n");

  it("adds the envelope recipients the headers do not name as Bcc, which Graph sends to and Exchange removes", () => {
    const sent = withBcc(raw, ["ann@customer.test", "BOB@customer.test", "carl@customer.test", "dora@elsewhere.test"]).toString("latin1");
    expect(sent.startsWith("Bcc: dora@elsewhere.test\r\nFrom: a@acme.test\r\n")).toBe(true);
    expect(withBcc(raw, ["ann@customer.test", "carl@customer.test"])).toBe(raw);
    // the body's "To:" line is not a header
    expect(withBcc(raw, ["not-a-header@x.test"]).toString("latin1")).toMatch(/^Bcc: not-a-header@x\.test\r\n/);
  });
});

describe("Graph notifications", () => {
  it("wake a mailbox only for a subscription it holds with that subscription's clientState", () => {
    const hub = new GraphNotificationHub("https://mailroom.test/api/v1/graph/notifications", null);
    const woken: string[] = [];
    hub.setWake((id) => woken.push(id));
    hub.hold("mb1", { id: "sub-1", clientState: "secret-1", expiresAt: new Date(), renew: false, recreate: false });
    expect(hub.changes({ value: [{ subscriptionId: "sub-1", clientState: "secret-1" }, { subscriptionId: "sub-1", clientState: "secret-1" }] })).toEqual({ woke: 1, ignored: 0 });
    expect(hub.changes({ value: [{ subscriptionId: "sub-1", clientState: "secret-2" }, { subscriptionId: "sub-9", clientState: "secret-1" }, {}] })).toEqual({ woke: 0, ignored: 3 });
    expect(hub.changes("not json at all")).toEqual({ woke: 0, ignored: 0 });
    expect(woken).toEqual(["mb1"]);

    // a subscription made anew replaces the old one: the old id no longer counts
    hub.hold("mb1", { id: "sub-2", clientState: "secret-3", expiresAt: new Date(), renew: false, recreate: false });
    expect(hub.changes({ value: [{ subscriptionId: "sub-1", clientState: "secret-1" }] }).ignored).toBe(1);
  });

  it("pass notifications for subscriptions held elsewhere to the other nodes, where only the holder acts, with its clientState", () => {
    const holder = new GraphNotificationHub("https://mailroom.test/n", "https://mailroom.test/l");
    const other = new GraphNotificationHub("https://mailroom.test/n", "https://mailroom.test/l");
    const woken: string[] = [];
    const reforwarded: unknown[] = [];
    holder.setWake((id) => woken.push(id));
    holder.setForward((_kind, items) => reforwarded.push(items));
    const held = { id: "sub-1", clientState: "s", expiresAt: new Date(), renew: false, recreate: false };
    holder.hold("mb1", held);
    // the feed between the nodes: what `other` forwards reaches `holder` as forwarded
    other.setForward((kind, items) => (kind === "changes" ? holder.changes({ value: items }, true) : holder.lifecycle({ value: items }, true)));

    other.changes({ value: [{ subscriptionId: "sub-1", clientState: "s" }, { subscriptionId: "sub-1", clientState: "wrong" }, { subscriptionId: 7 }] });
    expect(woken).toEqual(["mb1"]);
    other.lifecycle({ value: [{ subscriptionId: "sub-1", clientState: "s", lifecycleEvent: "reauthorizationRequired" }] });
    expect(held.renew).toBe(true);
    // a forwarded notification nobody holds goes nowhere further: no loop between nodes
    holder.changes({ value: [{ subscriptionId: "sub-9", clientState: "s" }] }, true);
    expect(reforwarded).toEqual([]);
  });

  it("marks a subscription for renewal or for a new one from lifecycle notifications", () => {
    const hub = new GraphNotificationHub("https://mailroom.test/n", "https://mailroom.test/l");
    const held = { id: "sub-1", clientState: "s", expiresAt: new Date(), renew: false, recreate: false };
    hub.hold("mb1", held);
    hub.lifecycle({ value: [{ subscriptionId: "sub-1", clientState: "s", lifecycleEvent: "reauthorizationRequired" }] });
    expect(held).toMatchObject({ renew: true, recreate: false });
    hub.lifecycle({ value: [{ subscriptionId: "sub-1", clientState: "wrong", lifecycleEvent: "subscriptionRemoved" }] });
    expect(held.recreate).toBe(false);
    hub.lifecycle({ value: [{ subscriptionId: "sub-1", clientState: "s", lifecycleEvent: "subscriptionRemoved" }] });
    expect(held.recreate).toBe(true);
  });
});
