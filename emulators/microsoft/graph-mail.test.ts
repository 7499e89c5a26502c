import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appToken, call, deliver, graphToken, sampleMime, startTestEmulator, testSeed, SALES, SUPPORT, type TestEmulator } from "./graph-test-support.js";

const LIST = { id: "33333333-3333-4333-8333-333333333333", mail: "list@contoso.test" };
const DELTA = { id: "44444444-4444-4444-8444-444444444444", mail: "delta@contoso.test" };
const SENDER = { id: "55555555-5555-4555-8555-555555555555", mail: "sender@contoso.test" };
const RECIPIENT = { id: "66666666-6666-4666-8666-666666666666", mail: "Recipient@contoso.test" };

let t: TestEmulator;
let token: string;

beforeAll(async () => {
  t = await startTestEmulator({ seed: testSeed([LIST, DELTA, SENDER, RECIPIENT]) });
  token = appToken(t.emulator);
});

afterAll(async () => {
  await t.close();
});

describe("messages", () => {
  it("lists, gets and returns the MIME of a delivered message byte for byte", async () => {
    const mime = sampleMime("Où est ma commande ?", { body: "Bonjour,\r\nje n'ai rien reçu.\r\n" });
    const id = await deliver(t.emulator, SUPPORT.mail, mime);

    const list = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.mail.toUpperCase()}/mailFolders/Inbox/messages`, { token });
    expect(list.status).toBe(200);
    expect(list.json.value.map((m: { id: string }) => m.id)).toContain(id);

    const got = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages/${id}`, { token });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      id,
      subject: "Où est ma commande ?",
      isRead: false,
      from: { emailAddress: { name: "Customer Name", address: "customer@example.org" } },
      sender: { emailAddress: { address: "customer@example.org" } },
      toRecipients: [{ emailAddress: { address: SUPPORT.mail } }],
      hasAttachments: false,
      sentDateTime: "2023-09-04T10:00:00Z",
    });
    expect(got.json["@odata.etag"]).toBe(`W/"${got.json.changeKey as string}"`);
    expect(got.json.internetMessageId).toMatch(/^<.+@example\.org>$/);
    expect(got.json.bodyPreview).toBe("Bonjour, je n'ai rien reçu.");
    const inbox = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/mailFolders/inbox`, { token });
    expect(got.json.parentFolderId).toBe(inbox.json.id);
    // the folder's id works wherever its well-known name does
    const byId = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/mailFolders/${encodeURIComponent(inbox.json.id as string)}/messages/${id}`, { token });
    expect(byId.status).toBe(200);

    const raw = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages/${id}/$value`, { token });
    expect(raw.status).toBe(200);
    expect(raw.headers["content-type"]).toBe("text/plain");
    expect(raw.body.equals(Buffer.from(mime, "utf8"))).toBe(true);
  });

  it("answers an unknown message id with ErrorItemNotFound", async () => {
    const r = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages/AAMkAnothere`, { token });
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({ code: "ErrorItemNotFound", message: "The specified object was not found in the store." });
  });

  it("filters, orders, selects and pages with @odata.nextLink", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await deliver(t.emulator, LIST.mail, sampleMime(`List ${i}`)));
    const base = `/v1.0/users/${LIST.id}/mailFolders/inbox/messages`;
    await call(t.emulator, "PATCH", `/v1.0/users/${LIST.id}/messages/${ids[1] as string}`, { token, body: { isRead: true } });

    // default order is newest first; $top pages and the nextLink carries the other options
    const first = await call(t.emulator, "GET", `${base}?$top=2&$select=subject,isRead`, { token });
    expect(first.json.value.map((m: { subject: string }) => m.subject)).toEqual(["List 4", "List 3"]);
    expect(Object.keys(first.json.value[0] as object).sort()).toEqual(["@odata.etag", "id", "isRead", "subject"]);
    const next = first.json["@odata.nextLink"] as string;
    expect(next.startsWith(`${t.emulator.url}/v1.0/`)).toBe(true);
    const second = await call(t.emulator, "GET", next, { token });
    expect(second.json.value.map((m: { subject: string }) => m.subject)).toEqual(["List 2", "List 1"]);
    const third = await call(t.emulator, "GET", second.json["@odata.nextLink"] as string, { token });
    expect(third.json.value.map((m: { subject: string }) => m.subject)).toEqual(["List 0"]);
    expect(third.json["@odata.nextLink"]).toBeUndefined();

    const unread = await call(t.emulator, "GET", `${base}?$filter=isRead eq false&$select=subject`, { token });
    expect(unread.json.value.map((m: { subject: string }) => m.subject)).toEqual(["List 4", "List 3", "List 2", "List 0"]);

    const since = encodeURIComponent("2000-01-01T00:00:00Z");
    const ascending = await call(t.emulator, "GET", `${base}?$filter=receivedDateTime ge ${since} and isRead eq false&$orderby=receivedDateTime asc&$top=1`, { token });
    expect(ascending.status).toBe(200);
    expect(ascending.json.value[0].subject).toBe("List 0");
    const future = await call(t.emulator, "GET", `${base}?$filter=receivedDateTime gt ${encodeURIComponent("2999-01-01T00:00:00Z")}`, { token });
    expect(future.json.value).toEqual([]);
  });

  it("refuses $orderby on a property the $filter does not name first, as Exchange does", async () => {
    const r = await call(t.emulator, "GET", `/v1.0/users/${LIST.id}/messages?$filter=isRead eq false&$orderby=receivedDateTime desc`, { token });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("InefficientFilter");
    const bad = await call(t.emulator, "GET", `/v1.0/users/${LIST.id}/messages?$filter=contains(subject,'x')`, { token });
    expect(bad.json.error.code).toBe("ErrorInvalidUrlQueryFilter");
    const select = await call(t.emulator, "GET", `/v1.0/users/${LIST.id}/messages?$select=nope`, { token });
    expect(select.status).toBe(400);
  });

  it("PATCH isRead changes the message, its changeKey and lastModifiedDateTime", async () => {
    const id = await deliver(t.emulator, SUPPORT.mail, sampleMime("Patch me"));
    const before = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages/${id}`, { token });
    t.emulator.state.clockOffsetMs += 5_000;
    try {
      const patched = await call(t.emulator, "PATCH", `/v1.0/users/${SUPPORT.id}/messages/${id}`, { token, body: { isRead: true } });
      expect(patched.status).toBe(200);
      expect(patched.json.isRead).toBe(true);
      expect(patched.json.changeKey).not.toBe(before.json.changeKey);
      expect(patched.json.lastModifiedDateTime > before.json.lastModifiedDateTime).toBe(true);
      const after = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages/${id}?$select=isRead`, { token });
      expect(after.json.isRead).toBe(true);
      const control = await call(t.emulator, "GET", `/_emulator/messages?user=${SUPPORT.mail}&folder=inbox`);
      expect(control.json.find((m: { id: string }) => m.id === id)).toMatchObject({ subject: "Patch me", isRead: true });
    } finally {
      t.emulator.state.clockOffsetMs -= 5_000;
    }
  });

  it("DELETE removes the message", async () => {
    const id = await deliver(t.emulator, SUPPORT.mail, sampleMime("Delete me"));
    const r = await call(t.emulator, "DELETE", `/v1.0/users/${SUPPORT.id}/messages/${id}`, { token });
    expect(r.status).toBe(204);
    const gone = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages/${id}`, { token });
    expect(gone.status).toBe(404);
  });
});

describe("delta", () => {
  const deltaUrl = `/v1.0/users/${DELTA.id}/mailFolders/inbox/messages/delta`;
  const pages = async (url: string, pageSize: number) => {
    const items: Record<string, unknown>[] = [];
    let next: string | undefined = url;
    let requests = 0;
    for (;;) {
      const r = await call(t.emulator, "GET", next, { token, headers: { prefer: `odata.maxpagesize=${pageSize}` } });
      expect(r.status).toBe(200);
      requests += 1;
      items.push(...(r.json.value as Record<string, unknown>[]));
      if (r.json["@odata.deltaLink"]) return { items, deltaLink: r.json["@odata.deltaLink"] as string, requests };
      next = r.json["@odata.nextLink"] as string;
      expect(next).toContain("$skiptoken=");
    }
  };

  it("pages through the folder, then reports only what changed, removals included", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await deliver(t.emulator, DELTA.mail, sampleMime(`Delta ${i}`)));
    const first = await pages(`${deltaUrl}?$select=subject,isRead`, 2);
    expect(first.requests).toBe(3);
    expect(first.items.map((m) => m.id).sort()).toEqual([...ids].sort());
    expect(Object.keys(first.items[0] as object).sort()).toEqual(["@odata.etag", "@odata.type", "id", "isRead", "subject"]);
    expect(first.deltaLink).toContain("$deltatoken=");

    const nothing = await pages(first.deltaLink, 2);
    expect(nothing.items).toEqual([]);

    await call(t.emulator, "PATCH", `/v1.0/users/${DELTA.id}/messages/${ids[0] as string}`, { token, body: { isRead: true } });
    await call(t.emulator, "DELETE", `/v1.0/users/${DELTA.id}/messages/${ids[1] as string}`, { token });
    const added = await deliver(t.emulator, DELTA.mail, sampleMime("Delta new"));
    const second = await pages(nothing.deltaLink, 10);
    expect(second.items).toHaveLength(3);
    expect(second.items.find((m) => m.id === ids[0])).toMatchObject({ isRead: true, subject: "Delta 0" });
    expect(second.items.find((m) => m.id === ids[1])).toEqual({ "@odata.type": "#microsoft.graph.message", id: ids[1], "@removed": { reason: "deleted" } });
    expect(second.items.find((m) => m.id === added)).toMatchObject({ subject: "Delta new", isRead: false });
    // $select came from the first request, through the tokens
    expect(second.items.find((m) => m.id === added)).not.toHaveProperty("body");
  });

  it("answers a token it does not know with 410 Gone, syncStateNotFound and the initial URL in Location", async () => {
    const forged = Buffer.from(JSON.stringify({ since: 0 })).toString("base64url");
    const r = await call(t.emulator, "GET", `${deltaUrl}?$deltatoken=${forged}`, { token });
    expect(r.status).toBe(410);
    expect(r.json.error.code).toBe("syncStateNotFound");
    expect(r.headers.location).toBe(`${t.emulator.url}/v1.0/users/${DELTA.id}/mailFolders/${(await call(t.emulator, "GET", `/v1.0/users/${DELTA.id}/mailFolders/inbox`, { token })).json.id as string}/messages/delta`);

    // a token the emulator issued, altered to start from the beginning, is not one it knows
    const round = await pages(deltaUrl, 50);
    const issued = new URL(round.deltaLink).searchParams.get("$deltatoken") as string;
    const [body, mac] = issued.split(".");
    const altered = { ...JSON.parse(Buffer.from(body as string, "base64url").toString("utf8")), since: 0, after: 0 };
    const tampered = await call(t.emulator, "GET", `${deltaUrl}?$deltatoken=${Buffer.from(JSON.stringify(altered)).toString("base64url")}.${mac as string}`, { token });
    expect(tampered.status).toBe(410);
    expect((await call(t.emulator, "GET", round.deltaLink, { token })).status).toBe(200);

    // tokens the emulator did issue die with POST /_emulator/delta/reset
    await call(t.emulator, "POST", "/_emulator/delta/reset");
    const expired = await call(t.emulator, "GET", round.deltaLink, { token });
    expect(expired.status).toBe(410);
  });

  it("$deltatoken=latest starts from now with an empty page (an emulator extension for messages)", async () => {
    await deliver(t.emulator, DELTA.mail, sampleMime("Before latest"));
    const latest = await call(t.emulator, "GET", `${deltaUrl}?$deltatoken=latest`, { token });
    expect(latest.status).toBe(200);
    expect(latest.json.value).toEqual([]);
    const id = await deliver(t.emulator, DELTA.mail, sampleMime("After latest"));
    const next = await pages(latest.json["@odata.deltaLink"] as string, 10);
    expect(next.items.map((m) => m.id)).toEqual([id]);
  });
});

describe("sendMail", () => {
  it("sends JSON: a copy in Sent Items, one in the recipient's Inbox, a line in the log", async () => {
    const r = await call(t.emulator, "POST", `/v1.0/users/${SENDER.mail}/sendMail`, {
      token,
      body: {
        message: {
          subject: "Votre demande n° 42",
          body: { contentType: "Text", content: "Bonjour" },
          toRecipients: [{ emailAddress: { address: RECIPIENT.mail.toLowerCase() } }],
          bccRecipients: [{ emailAddress: { address: "hidden@example.org" } }],
          internetMessageHeaders: [{ name: "X-Mailroom-Ticket", value: "42" }],
        },
      },
    });
    expect(r.status).toBe(202);
    expect(r.text).toBe("");

    const sent = await call(t.emulator, "GET", `/v1.0/users/${SENDER.id}/mailFolders/sentitems/messages?$select=subject,isRead,internetMessageId`, { token });
    expect(sent.json.value).toHaveLength(1);
    expect(sent.json.value[0]).toMatchObject({ subject: "Votre demande n° 42", isRead: true });

    const inbox = await call(t.emulator, "GET", `/v1.0/users/${RECIPIENT.id}/mailFolders/inbox/messages`, { token });
    expect(inbox.json.value).toHaveLength(1);
    const delivered = inbox.json.value[0];
    expect(delivered).toMatchObject({ subject: "Votre demande n° 42", isRead: false, internetMessageId: sent.json.value[0].internetMessageId });
    expect(delivered.from.emailAddress.address).toBe(SENDER.mail);
    const mime = (await call(t.emulator, "GET", `/v1.0/users/${RECIPIENT.id}/messages/${delivered.id as string}/$value`, { token })).text;
    expect(mime).toMatch(/^X-Mailroom-Ticket: 42\r$/m);
    expect(mime).not.toMatch(/^Bcc:/im);

    const log = await call(t.emulator, "GET", "/_emulator/sent");
    const entry = log.json.at(-1);
    expect(entry).toMatchObject({ from: SENDER.mail, to: [RECIPIENT.mail.toLowerCase()], cc: [], bcc: ["hidden@example.org"] });
    expect(Buffer.from(entry.mime as string, "base64").toString("utf8")).toContain("Subject: =?utf-8?B?");
  });

  it("refuses internetMessageHeaders that are not x- headers, and a from that is not the mailbox", async () => {
    const message = { subject: "s", body: { contentType: "Text", content: "b" }, toRecipients: [{ emailAddress: { address: SUPPORT.mail } }] };
    const header = await call(t.emulator, "POST", `/v1.0/users/${SENDER.id}/sendMail`, {
      token,
      body: { message: { ...message, internetMessageHeaders: [{ name: "In-Reply-To", value: "<a@b>" }] } },
    });
    expect(header.status).toBe(400);
    expect(header.json.error.code).toBe("InvalidInternetMessageHeader");
    const sendAs = await call(t.emulator, "POST", `/v1.0/users/${SENDER.id}/sendMail`, {
      token,
      body: { message: { ...message, from: { emailAddress: { address: SALES.mail } } } },
    });
    expect(sendAs.status).toBe(403);
    expect(sendAs.json.error.code).toBe("ErrorSendAsDenied");
  });

  it("sends MIME given as base64 text/plain, keeping saveToSentItems' default", async () => {
    const mime = sampleMime("MIME send", { from: SENDER.mail, to: RECIPIENT.mail, messageId: "<mime-send@contoso.test>" });
    const r = await call(t.emulator, "POST", `/v1.0/users/${SENDER.id}/sendMail`, { token, raw: { data: Buffer.from(mime).toString("base64"), contentType: "text/plain" } });
    expect(r.status).toBe(202);
    const inbox = await call(t.emulator, "GET", `/_emulator/messages?user=${RECIPIENT.mail}&folder=inbox`);
    const got = inbox.json.find((m: { internetMessageId: string }) => m.internetMessageId === "<mime-send@contoso.test>");
    expect(got).toMatchObject({ subject: "MIME send", isRead: false });
    const raw = await call(t.emulator, "GET", `/v1.0/users/${RECIPIENT.id}/messages/${got.id as string}/$value`, { token });
    expect(raw.text).toBe(mime);
    const sent = await call(t.emulator, "GET", `/_emulator/messages?user=${SENDER.mail}&folder=sentitems`);
    expect(sent.json.map((m: { subject: string }) => m.subject)).toContain("MIME send");

    const bad = await call(t.emulator, "POST", `/v1.0/users/${SENDER.id}/sendMail`, { token, raw: { data: "this is not base64!", contentType: "text/plain" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: "ErrorMimeContentInvalidBase64String", message: "Invalid base64 string for MIME content." });
    // good base64 of something that is not a message is malformed MIME all the same
    const notMime = await call(t.emulator, "POST", `/v1.0/users/${SENDER.id}/sendMail`, { token, raw: { data: Buffer.from("hello there").toString("base64"), contentType: "text/plain" } });
    expect(notMime.status).toBe(400);
    expect(notMime.json.error.code).toBe("ErrorMimeContentInvalidBase64String");
  });

  it("needs Mail.Send", async () => {
    const readOnly = appToken(t.emulator, ["Mail.ReadWrite"]);
    const r = await call(t.emulator, "POST", `/v1.0/users/${SENDER.id}/sendMail`, { token: readOnly, body: { message: { toRecipients: [{ emailAddress: { address: SUPPORT.mail } }] } } });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe("ErrorAccessDenied");
  });
});

describe("authentication and permissions", () => {
  const inbox = `/v1.0/users/${SUPPORT.id}/mailFolders/inbox/messages`;

  it("401 without a token, with a token that is not a JWT, and with a forged one", async () => {
    const none = await call(t.emulator, "GET", inbox);
    expect(none.status).toBe(401);
    expect(none.json.error).toMatchObject({ code: "InvalidAuthenticationToken", message: "Access token is empty." });
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer realm=""/);
    const garbage = await call(t.emulator, "GET", inbox, { token: "not-a-jwt" });
    expect(garbage.status).toBe(401);
    expect(garbage.json.error.message).toMatch(/^IDX14100: JWT is not well formed/);
    const [h, p] = token.split(".");
    const forged = await call(t.emulator, "GET", inbox, { token: `${h as string}.${p as string}.AAAA` });
    expect(forged.status).toBe(401);
  });

  it("401 for an expired token and for one meant for another audience", async () => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    const expired = graphToken(t.emulator, { roles: ["Mail.ReadWrite"] }, { iat: past, nbf: past, exp: past + 3600 });
    const r = await call(t.emulator, "GET", inbox, { token: expired });
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ code: "InvalidAuthenticationToken", message: "Access token has expired or is not yet valid." });
    const outlook = graphToken(t.emulator, { roles: ["Mail.ReadWrite"] }, { aud: "https://outlook.office365.com" });
    expect((await call(t.emulator, "GET", inbox, { token: outlook })).status).toBe(401);
    const graphAppId = graphToken(t.emulator, { roles: ["Mail.ReadWrite"] }, { aud: "00000003-0000-0000-c000-000000000000" });
    expect((await call(t.emulator, "GET", inbox, { token: graphAppId })).status).toBe(200);
  });

  it("403 without a mail role, 404 ErrorInvalidUser for a user the tenant does not have", async () => {
    const noMail = appToken(t.emulator, ["User.Read.All"]);
    const r = await call(t.emulator, "GET", inbox, { token: noMail });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: "ErrorAccessDenied", message: "Access is denied. Check credentials and try again." });
    expect(r.json.error.innerError["request-id"]).toBeTruthy();
    const readOnly = appToken(t.emulator, ["Mail.Read"]);
    expect((await call(t.emulator, "GET", inbox, { token: readOnly })).status).toBe(200);
    const patch = await call(t.emulator, "PATCH", `/v1.0/users/${SUPPORT.id}/messages/x`, { token: readOnly, body: { isRead: true } });
    expect(patch.status).toBe(403);
    const nobody = await call(t.emulator, "GET", "/v1.0/users/nobody@contoso.test/messages", { token });
    expect(nobody.status).toBe(404);
    expect(nobody.json.error).toMatchObject({ code: "ErrorInvalidUser", message: "The requested user 'nobody@contoso.test' is invalid." });
  });

  it("a delegated token reaches the signed-in user's mailbox and no other", async () => {
    const delegated = graphToken(t.emulator, { scp: "Mail.ReadWrite User.Read", user: SUPPORT });
    expect((await call(t.emulator, "GET", "/v1.0/me/mailFolders/inbox/messages", { token: delegated })).status).toBe(200);
    expect((await call(t.emulator, "GET", inbox, { token: delegated })).status).toBe(200);
    const other = await call(t.emulator, "GET", `/v1.0/users/${SALES.id}/messages`, { token: delegated });
    expect(other.status).toBe(403);
    expect(other.json.error.code).toBe("ErrorAccessDenied");
    const me = await call(t.emulator, "GET", "/v1.0/me", { token: delegated });
    expect(me.json).toMatchObject({ id: SUPPORT.id, mail: SUPPORT.mail, userPrincipalName: SUPPORT.mail });
    expect((await call(t.emulator, "GET", `/v1.0/users/${SALES.id}`, { token: delegated })).status).toBe(403);
  });

  it("GET /users/{id} needs User.Read.All for an application", async () => {
    const ok = await call(t.emulator, "GET", `/v1.0/users/${SALES.mail}`, { token });
    expect(ok.json).toMatchObject({ id: SALES.id, mail: SALES.mail });
    const denied = await call(t.emulator, "GET", `/v1.0/users/${SALES.mail}`, { token: appToken(t.emulator, ["Mail.ReadWrite"]) });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe("Authorization_RequestDenied");
  });

  it("a token for another tenant does not reach this one", async () => {
    const foreign = graphToken(t.emulator, { roles: ["Mail.ReadWrite"] }, { tid: "00000000-0000-4000-8000-000000000000" });
    expect((await call(t.emulator, "GET", inbox, { token: foreign })).status).toBe(401);
  });
});

describe("throttling", () => {
  it("a 429 fault answers in Graph's error shape with Retry-After, once", async () => {
    const set = await call(t.emulator, "POST", "/_emulator/faults", { body: { fail: { status: 429, retryAfterSeconds: 1, times: 1 } } });
    expect(set.status).toBe(200);
    const throttled = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages`, { token });
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("1");
    expect(throttled.json.error).toMatchObject({ code: "TooManyRequests" });
    expect(throttled.json.error.innerError.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const after = await call(t.emulator, "GET", `/v1.0/users/${SUPPORT.id}/messages`, { token });
    expect(after.status).toBe(200);
  });
});
