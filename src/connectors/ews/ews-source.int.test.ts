import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MemorySyncStore, syncOnce } from "../../../test/support/memory-sync-store.js";
import { eventually, testMessage, uniqueUser } from "../../../test/support/mail-fixtures.js";
import { startMicrosoft, type Microsoft } from "../../../test/support/microsoft.js";
import { createLogger } from "../../logger.js";
import { TokenService } from "../../oauth/token-service.js";
import { trustedCa } from "../../shared/https-request.js";
import { fixedCredential, MailSourceError, type CredentialProvider, type MailSourceSettings } from "../mail-source.js";
import { EwsClient } from "./ews-client.js";
import { EwsSource } from "./ews-source.js";
import { testEws } from "./ews-tester.js";

/**
 * The EWS connector's flows and Exchange's errors, against the emulator's EWS: each sign-in method,
 * throttling, a lost sync state, streaming notifications and their loss, a read-only mailbox.
 */
let ms: Microsoft;
let tokens: TokenService;
const sources: EwsSource[] = [];

beforeAll(async () => {
  ms = await startMicrosoft();
  tokens = new TokenService({ timeoutMs: 10_000, extraCa: ms.emulator.caPem, log: createLogger("silent") });
});
afterEach(async () => {
  await ms.control("/_emulator/faults", { clear: true });
  await ms.control("/_emulator/ews/auth", { schemes: ["ntlm", "basic"] });
  await ms.control("/_emulator/ews/streaming", { closeAfterMs: null });
});
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await ms?.stop();
});

interface Box {
  user: string;
  userId: string;
  password: string;
  settings: MailSourceSettings;
  source(options?: { pollMs?: number }): EwsSource;
}

async function newBox(credentials?: (user: string, password: string) => CredentialProvider): Promise<Box> {
  const user = uniqueUser("ews");
  const password = `${user}-secret`;
  const { id: userId } = await ms.addUser(user, password);
  const settings = ms.mailboxSettings(user, credentials?.(user, password) ?? fixedCredential({ method: "password", password }));
  return {
    user,
    userId,
    password,
    settings,
    source: (options = {}) => {
      const s = new EwsSource(settings, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000, ...options });
      sources.push(s);
      return s;
    },
  };
}

const stats = async () => (await ms.get("/_emulator/stats")) as { ews: number; throttled: number };
const subscriptions = async (box: Box) => ((await ms.get("/_emulator/ews/subscriptions")) as { id: string; userId: string; connected: boolean }[]).filter((s) => s.userId === box.userId);
const subjectsOf = (store: MemorySyncStore) => store.committedMessages().map((m) => /Subject: (.*)\r\n/.exec(m.raw.toString("latin1"))?.[1]).sort();

describe("EWS sign-in", () => {
  it("signs in with NTLM and keeps the connection signed in, and says so in words when the password is wrong", async () => {
    const box = await newBox();
    await ms.deliver(box.user, testMessage("over ntlm"));
    const source = box.source();
    const store = new MemorySyncStore();
    const before = (await stats()).ews;
    expect((await syncOnce(source, store)).report).toMatchObject({ created: 1, acked: 1 });
    // NTLM's first leg, Subscribe (signing the connection in), SyncFolderItems, GetItem, UpdateItem: one handshake, not one per request
    expect((await stats()).ews - before).toBe(5);

    const wrong = new EwsSource({ ...box.settings, credentials: fixedCredential({ method: "password", password: "not-it" }) }, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 });
    sources.push(wrong);
    const failed = await wrong.open().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(MailSourceError);
    expect(failed).toMatchObject({ code: "auth_failed", message: expect.stringMatching(/refused the login .* \(NTLM\): check the login and password/) });
  });

  it("uses Basic when Exchange offers only Basic, over TLS, and refuses to send a password unencrypted over http", async () => {
    await ms.control("/_emulator/ews/auth", { schemes: ["basic"] });
    const box = await newBox();
    await ms.deliver(box.user, testMessage("over basic"));
    const store = new MemorySyncStore();
    expect((await syncOnce(box.source(), store)).report).toMatchObject({ created: 1, acked: 1 });

    // an http endpoint that asks for Basic only: the password is never sent
    const seen: (string | undefined)[] = [];
    const plain = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      res.writeHead(401, { "www-authenticate": 'Basic realm="exchange"' }).end();
    });
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    try {
      const port = (plain.address() as AddressInfo).port;
      const source = new EwsSource({ ...box.settings, port, security: "none" }, { ca: undefined, timeoutMs: 10_000 });
      sources.push(source);
      await expect(source.open()).rejects.toMatchObject({ code: "auth_failed", message: expect.stringMatching(/only Basic sign-in, which would send the password unencrypted over http/) });
      expect(seen.some((h) => h?.startsWith("Basic"))).toBe(false);
    } finally {
      plain.close();
    }
  });

  it("signs in with an application's OAuth token through ExchangeImpersonation, and with a user's token as that user", async () => {
    const app = await newBox((user) => tokens.credentials(ms.account({ protocol: "EWS", username: user })));
    await ms.deliver(app.user, testMessage("app token"));
    const appStore = new MemorySyncStore();
    expect((await syncOnce(app.source(), appStore)).report).toMatchObject({ created: 1, acked: 1 });

    const user = await newBox((u, password) => tokens.credentials(ms.account({ protocol: "EWS", grant: "password", username: u, password, clientSecret: ms.clientSecret })));
    await ms.deliver(user.user, testMessage("user token"));
    const userStore = new MemorySyncStore();
    expect((await syncOnce(user.source(), userStore)).report).toMatchObject({ created: 1, acked: 1 });
    expect([subjectsOf(appStore), subjectsOf(userStore)]).toEqual([["app token"], ["user token"]]);
    expect((await ms.messages(user.user)).every((m) => m.isRead)).toBe(true);
  });
});

describe("EWS under Exchange's errors", () => {
  it("waits out ErrorServerBusy's BackOffMilliseconds for the whole mailbox, and loses and doubles nothing", async () => {
    const box = await newBox();
    for (let i = 1; i <= 5; i++) await ms.deliver(box.user, testMessage(`busy ${i}`));
    const source = box.source();
    await source.open();
    // the next request is refused with a back-off of 1.5 s, and a GetItem answers ErrorServerBusy per message
    await ms.control("/_emulator/faults", { fail: { match: "ews", status: 429, retryAfterSeconds: 1.5, times: 1 }, ewsError: { operation: "GetItem", code: "ErrorServerBusy", backOffMs: 300, times: 1 } });
    const store = new MemorySyncStore();
    const started = Date.now();
    const { report } = await syncOnce(source, store);
    // a lower bound only: a slower machine takes longer, never shorter
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500 + 300);
    expect(report).toMatchObject({ created: 5, acked: 5 });
    expect(subjectsOf(store)).toEqual([1, 2, 3, 4, 5].map((i) => `busy ${i}`));
    expect((await stats()).throttled).toBeGreaterThan(0);
    expect((await ms.messages(box.user)).every((m) => m.isRead)).toBe(true);
  });

  it("treats a message deleted between listing and fetching as gone, not refused: nothing is left to acknowledge", async () => {
    const box = await newBox();
    await ms.deliver(box.user, testMessage("deleted by a colleague"));
    await ms.deliver(box.user, testMessage("still there"));
    const session = await box.source().open();
    const listing = await session.list(null);
    expect(listing.keys).toHaveLength(2);
    ms.emulator.state.messages.get(listing.keys[0]!)!.deleted = true;
    const fetched = await session.fetch(listing.keys.map((key) => ({ key, headersOnly: false })));
    expect(fetched.map((m) => m.sourceKey)).toEqual([listing.keys[1]]);
    expect(await session.acknowledge(listing.keys)).toEqual({ done: listing.keys, pending: [], refused: null });
  });

  it("starts a new round when Exchange loses the sync state (ErrorInvalidSyncStateData), storing nothing twice", async () => {
    const box = await newBox();
    await ms.deliver(box.user, testMessage("before the loss"));
    const store = new MemorySyncStore();
    await syncOnce(box.source(), store);
    await ms.control("/_emulator/ews/reset-sync", { user: box.user });
    await ms.deliver(box.user, testMessage("after the loss"));
    const { report } = await syncOnce(box.source(), store);
    expect(report.created).toBe(1);
    expect(subjectsOf(store)).toEqual(["after the loss", "before the loss"]);
  });

  it("keeps taking new mail when the mailbox refuses IsRead (ErrorAccessDenied), with a warning, and leaves those messages unread", async () => {
    const box = await newBox();
    await ms.deliver(box.user, testMessage("read-only 1"));
    await ms.control("/_emulator/ews/read-only", { user: box.user, readOnly: true });
    const store = new MemorySyncStore();
    const first = await syncOnce(box.source(), store);
    expect(first.report).toMatchObject({ created: 1, acked: 0 });
    expect(first.warnings.map((w) => w.code)).toEqual(["ack_refused"]);
    await ms.deliver(box.user, testMessage("read-only 2"));
    const second = await syncOnce(box.source(), store);
    expect(second.report.created).toBe(1);
    expect(subjectsOf(store)).toEqual(["read-only 1", "read-only 2"]);
    expect((await ms.messages(box.user)).map((m) => m.isRead)).toEqual([false, false]);
  });

  it("takes only unread mail on a first sync with initialImport unseen, and still only that after a lost sync state", async () => {
    const box = await newBox();
    await ms.deliver(box.user, testMessage("old and read"));
    await ms.deliver(box.user, testMessage("old and unread"));
    // read elsewhere (Outlook) before Mailroom's first sync
    const outlook = new EwsSource({ ...box.settings }, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 });
    sources.push(outlook);
    const session = await outlook.open();
    const listing = await session.list(null);
    const [oldest] = await session.fetch([{ key: listing.keys[0]!, headersOnly: false }]);
    expect(oldest!.raw.toString("latin1")).toContain("old and read");
    await session.acknowledge([listing.keys[0]!]);

    const store = new MemorySyncStore();
    await syncOnce(new EwsSource({ ...box.settings, initialImport: "unseen" }, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 }), store);
    expect(subjectsOf(store)).toEqual(["old and unread"]);
    await ms.control("/_emulator/ews/reset-sync", { user: box.user });
    await syncOnce(new EwsSource({ ...box.settings, initialImport: "unseen" }, { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 }), store);
    expect(subjectsOf(store)).toEqual(["old and unread"]);
  });
});

describe("EWS streaming notifications", () => {
  it("wakes on new mail, also for mail that arrived between the sync and the wait", async () => {
    const box = await newBox();
    const source = box.source();
    const store = new MemorySyncStore();
    await syncOnce(source, store);
    await ms.deliver(box.user, testMessage("between sync and wait"));
    expect(await source.waitForChange(60_000, new AbortController().signal)).toBe("changed");
    await syncOnce(source, store);

    const waiting = source.waitForChange(60_000, new AbortController().signal);
    await eventually(async () => (await subscriptions(box)).some((s) => s.connected), 10_000);
    await ms.deliver(box.user, testMessage("while listening"));
    expect(await waiting).toBe("changed");
    await syncOnce(source, store);
    expect(subjectsOf(store)).toEqual(["between sync and wait", "while listening"]);
  });

  it("listens again when Exchange closes the stream, and subscribes anew when Exchange dropped the subscription", async () => {
    const box = await newBox();
    const source = box.source();
    const store = new MemorySyncStore();
    await syncOnce(source, store);
    await ms.control("/_emulator/ews/streaming", { closeAfterMs: 100 });
    const before = (await stats()).ews;
    const waiting = source.waitForChange(60_000, new AbortController().signal);
    // three streams opened and closed by the server: the wait goes on
    await eventually(async () => (await stats()).ews - before >= 3, 20_000);
    await ms.deliver(box.user, testMessage("after reconnects"));
    expect(await waiting).toBe("changed");
    await ms.control("/_emulator/ews/streaming", { closeAfterMs: null });

    const [old] = await subscriptions(box);
    await ms.control("/_emulator/ews/drop-subscriptions", { user: box.user });
    // the loss wakes the mailbox: its sync subscribes again before listing
    expect(await source.waitForChange(60_000, new AbortController().signal)).toBe("changed");
    await syncOnce(source, store);
    const renewed = await subscriptions(box);
    expect(renewed.map((s) => s.id)).not.toContain(old!.id);
    expect(renewed).toHaveLength(1);
    const again = source.waitForChange(60_000, new AbortController().signal);
    await ms.deliver(box.user, testMessage("after resubscribing"));
    expect(await again).toBe("changed");
    await syncOnce(source, store);
    expect(subjectsOf(store)).toEqual(["after reconnects", "after resubscribing"]);
  });

  it("waits out a throttled notification stream instead of failing the mailbox", async () => {
    const box = await newBox();
    const source = box.source();
    await syncOnce(source, new MemorySyncStore());
    const throttled = (await stats()).throttled;
    await ms.control("/_emulator/faults", { fail: { match: "ews", status: 429, retryAfterSeconds: 0.2, times: 1 } });
    const waiting = source.waitForChange(60_000, new AbortController().signal);
    await eventually(async () => (await stats()).throttled > throttled, 10_000);
    await ms.deliver(box.user, testMessage("after the throttled stream"));
    expect(await waiting).toBe("changed");
  });

  it("ends a stream whose envelope it cannot read with a protocol error, and the process goes on", async () => {
    // an Exchange (or a proxy) that starts a notification stream and then writes what is not a SOAP envelope
    const odd = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/xml; charset=utf-8" });
      res.write(`<?xml version="1.0"?><x:Envelope xmlns:x="urn:x"><x:Header/></x:Envelope>`);
    });
    await new Promise<void>((resolve) => odd.listen(0, "127.0.0.1", resolve));
    try {
      const client = new EwsClient({
        url: new URL(`http://127.0.0.1:${(odd.address() as AddressInfo).port}/EWS/Exchange.asmx`),
        login: "support@acme.test",
        credentials: fixedCredential({ method: "xoauth2", accessToken: "token" }),
        ca: undefined,
        allowInvalidCertificates: false,
        timeoutMs: 10_000,
      });
      await expect(client.stream("<m:GetStreamingEvents/>", new AbortController().signal, () => undefined)).rejects.toMatchObject({
        code: "protocol_error",
        message: expect.stringMatching(/sent a notification Mailroom cannot read: The answer is not a SOAP envelope/),
      });
      client.close();
    } finally {
      odd.closeAllConnections();
      odd.close();
    }
  });

  it("polls, with a warning, when Exchange will not keep a streaming subscription; a stop ends a wait at once and gives the subscription back", async () => {
    const box = await newBox();
    await ms.control("/_emulator/faults", { ewsError: { operation: "Subscribe", code: "ErrorAccessDenied", times: 2 } });
    const source = box.source({ pollMs: 50 });
    await syncOnce(source, new MemorySyncStore());
    expect(source.takeWarnings()).toEqual([{ code: "notifications_unavailable", message: expect.stringMatching(/polling every 0 s: ErrorAccessDenied/) }]);
    expect(await source.waitForChange(60_000, new AbortController().signal)).toBe("timeout");
    // refused again at the next sync: said once, not at every poll; then granted, and the mailbox listens
    await syncOnce(source, new MemorySyncStore());
    expect(source.takeWarnings()).toEqual([]);
    await syncOnce(source, new MemorySyncStore());
    expect(await subscriptions(box)).toHaveLength(1);

    const other = await newBox();
    const listening = other.source();
    await syncOnce(listening, new MemorySyncStore());
    const stop = new AbortController();
    const waiting = listening.waitForChange(60_000, stop.signal);
    await eventually(async () => (await subscriptions(other)).some((s) => s.connected), 10_000);
    stop.abort();
    expect(await waiting).toBe("aborted");
    await listening.close();
    expect(await subscriptions(other)).toEqual([]);
  });
});

describe("the EWS connection test", () => {
  it("opens the Inbox and says how many messages it holds, or which step failed", async () => {
    const box = await newBox();
    await ms.deliver(box.user, testMessage("counted"));
    const options = { ca: trustedCa(ms.emulator.caPem), timeoutMs: 10_000 };
    expect(await testEws(box.settings, options)).toEqual([{ step: "open_folder", ok: true, ms: expect.any(Number), message: expect.stringMatching(/Opened the Inbox of .* \(1 messages, 1 unread\)/) }]);
    const wrong = await testEws({ ...box.settings, credentials: fixedCredential({ method: "password", password: "nope" }) }, options);
    expect(wrong).toEqual([{ step: "authenticate", ok: false, ms: expect.any(Number), message: expect.stringMatching(/refused the login/) }]);
    expect((await ms.messages(box.user)).map((m) => m.isRead)).toEqual([false]);
  });
});
