import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { appToken, call, deliver, sampleMime, startTestEmulator, testSeed, type TestEmulator } from "./graph-test-support.js";
import { basicFor, ews, fault, folderXml, messages, soap, success, textOf } from "./ews-test-support.js";

const READER = { id: "c1c1c1c1-0000-4000-8000-000000000001", mail: "reader@contoso.test" };
const WRITER = { id: "c1c1c1c1-0000-4000-8000-000000000002", mail: "writer@contoso.test" };
const SENDER = { id: "c1c1c1c1-0000-4000-8000-000000000003", mail: "sender@contoso.test" };
const TO = { id: "c1c1c1c1-0000-4000-8000-000000000004", mail: "to@contoso.test" };
const HIDDEN = { id: "c1c1c1c1-0000-4000-8000-000000000005", mail: "hidden@contoso.test" };

let t: TestEmulator;
let graph: string;

beforeAll(async () => {
  t = await startTestEmulator({ seed: testSeed([READER, WRITER, SENDER, TO, HIDDEN]) });
  graph = appToken(t.emulator);
});

afterAll(async () => {
  await t.close();
});

afterEach(async () => {
  await call(t.emulator, "POST", "/_emulator/faults", { body: { clear: true } });
});

const getItemXml = (ids: string[], shape = "IdOnly", extra = "") =>
  soap(`<m:GetItem><m:ItemShape><t:BaseShape>${shape}</t:BaseShape>${extra}</m:ItemShape><m:ItemIds>${ids.map((id) => `<t:ItemId Id="${id}"/>`).join("")}</m:ItemIds></m:GetItem>`);

const markXml = (id: string, isRead: boolean, options: { changeKey?: string; conflict?: string } = {}) =>
  soap(
    `<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="${options.conflict ?? "AutoResolve"}" SuppressReadReceipts="true"><m:ItemChanges><t:ItemChange>` +
      `<t:ItemId Id="${id}"${options.changeKey ? ` ChangeKey="${options.changeKey}"` : ""}/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/>` +
      `<t:Message><t:IsRead>${isRead}</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>`,
  );

const createXml = (disposition: string, mimeBase64: string, saved = "") =>
  soap(
    `<m:CreateItem MessageDisposition="${disposition}">${saved ? `<m:SavedItemFolderId>${folderXml(saved)}</m:SavedItemFolderId>` : ""}` +
      `<m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">${mimeBase64}</t:MimeContent></t:Message></m:Items></m:CreateItem>`,
  );

const graphMessage = async (userId: string, id: string) => (await call(t.emulator, "GET", `/v1.0/users/${userId}/messages/${id}`, { token: graph })).json;

describe("GetFolder", () => {
  it("counts the folder's items and unread items", async () => {
    await deliver(t.emulator, WRITER.mail, sampleMime("Counted 1", { to: WRITER.mail }));
    const second = await deliver(t.emulator, WRITER.mail, sampleMime("Counted 2", { to: WRITER.mail }));
    await call(t.emulator, "PATCH", `/v1.0/users/${WRITER.id}/messages/${second}`, { token: graph, body: { isRead: true } });
    const r = await ews(t.emulator, soap(`<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds>${folderXml("inbox")}</m:FolderIds></m:GetFolder>`), {
      auth: basicFor(WRITER.mail),
    });
    const folder = success(r, "GetFolder").Folders.Folder[0];
    expect(folder).toMatchObject({ DisplayName: "Inbox", TotalCount: "2", UnreadCount: "1", ChildFolderCount: "0" });
    // the same folder id Graph gives, usable as a FolderId
    const graphFolder = (await call(t.emulator, "GET", `/v1.0/users/${WRITER.id}/mailFolders/inbox`, { token: graph })).json;
    expect(folder.FolderId["@Id"]).toBe(graphFolder.id);
    const byId = await ews(t.emulator, soap(`<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="${graphFolder.id as string}"/></m:FolderIds></m:GetFolder>`), {
      auth: basicFor(WRITER.mail),
    });
    expect(success(byId, "GetFolder").Folders.Folder[0].DisplayName).toBe("Inbox");
  });
});

describe("GetItem", () => {
  it("returns the exact stored bytes as MimeContent and the header block as PR_TRANSPORT_MESSAGE_HEADERS", async () => {
    const head = Buffer.concat([
      Buffer.from("From: customer@example.org\r\nTo: reader@contoso.test\r\nSubject: Caf", "latin1"),
      Buffer.from("é", "utf8"),
      Buffer.from(" au lait\r\nX-Folded: one\r\n two\r\nX-Control: a\x01b\r\nMessage-ID: <bytes@example.org>\r\n", "latin1"),
    ]);
    // 8-bit bytes, a lone CR and a bare LF in the body: all must come back as they were
    const mime = Buffer.concat([head, Buffer.from("\r\n", "latin1"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x78, 0x0a, 0x79, 0x0d, 0x0a])]);
    const id = (await call(t.emulator, "POST", "/_emulator/deliver", { body: { to: READER.mail, mimeBase64: mime.toString("base64") } })).json.id as string;

    const extended = `<t:IncludeMimeContent>true</t:IncludeMimeContent><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="message:IsRead"/>` +
      `<t:ExtendedFieldURI PropertyTag="0x007D" PropertyType="String"/></t:AdditionalProperties>`;
    const r = await ews(t.emulator, getItemXml([id], "IdOnly", extended), { auth: basicFor(READER.mail) });
    const message = success(r, "GetItem").Items.Message[0];
    expect(message.MimeContent["@CharacterSet"]).toBe("UTF-8");
    expect(Buffer.from(textOf(message.MimeContent) ?? "", "base64").equals(mime)).toBe(true);
    expect(message).toMatchObject({ Subject: "Café au lait", IsRead: "false", ItemId: { "@Id": id } });
    expect(message.ExtendedProperty.ExtendedFieldURI).toMatchObject({ "@PropertyTag": "0x7d", "@PropertyType": "String" });
    // up to and including the last header line's CRLF; U+0001 cannot be in XML and is dropped
    expect(message.ExtendedProperty.Value).toBe(head.toString("utf8").replace("\x01", ""));
  });

  it("answers each id in request order: found, not found, malformed, deleted, refused", async () => {
    const found = await deliver(t.emulator, READER.mail, sampleMime("Found", { to: READER.mail }));
    const deleted = await deliver(t.emulator, READER.mail, sampleMime("Deleted", { to: READER.mail }));
    await call(t.emulator, "DELETE", `/v1.0/users/${READER.id}/messages/${deleted}`, { token: graph });
    const refused = await deliver(t.emulator, READER.mail, sampleMime("Refused", { to: READER.mail, body: "CORRUPT-MARKER" }));
    expect((await call(t.emulator, "POST", "/_emulator/refuse", { body: { user: READER.mail, marker: "CORRUPT-MARKER" } })).status).toBe(200);
    const someoneElses = await deliver(t.emulator, WRITER.mail, sampleMime("Not yours", { to: WRITER.mail }));

    const r = await ews(t.emulator, getItemXml([found, "AAMkAnothereAAAAAAAAAAAAA=", "garbage", deleted, refused, someoneElses], "Default"), { auth: basicFor(READER.mail) });
    const answers = messages(r, "GetItem");
    expect(answers.map((m) => m.ResponseCode)).toEqual(["NoError", "ErrorItemNotFound", "ErrorInvalidIdMalformed", "ErrorItemNotFound", "ErrorCorruptData", "ErrorItemNotFound"]);
    expect(answers[0].Items.Message[0]).toMatchObject({ Subject: "Found", IsRead: "false", From: { Mailbox: [{ EmailAddress: "customer@example.org" }] } });
    expect(answers[1]).toMatchObject({ "@ResponseClass": "Error", MessageText: "The specified object was not found in the store.", DescriptiveLinkKey: "0" });
  });
});

describe("UpdateItem", () => {
  it("marks a message read, visible through Graph and the control route, with a new ChangeKey; Graph's change shows in EWS", async () => {
    const id = await deliver(t.emulator, WRITER.mail, sampleMime("Mark me", { to: WRITER.mail }));
    const before = await graphMessage(WRITER.id, id);
    const r = success(await ews(t.emulator, markXml(id, true), { auth: basicFor(WRITER.mail) }), "UpdateItem");
    expect(r.ConflictResults.Count).toBe("0");
    const after = await graphMessage(WRITER.id, id);
    expect(after.isRead).toBe(true);
    expect(after.changeKey).not.toBe(before.changeKey);
    expect(r.Items.Message[0].ItemId).toEqual({ "@Id": id, "@ChangeKey": after.changeKey });
    const control = (await call(t.emulator, "GET", `/_emulator/messages?user=${WRITER.mail}`)).json as { id: string; isRead: boolean }[];
    expect(control.find((m) => m.id === id)?.isRead).toBe(true);

    await call(t.emulator, "PATCH", `/v1.0/users/${WRITER.id}/messages/${id}`, { token: graph, body: { isRead: false } });
    const got = success(await ews(t.emulator, getItemXml([id], "IdOnly", `<t:AdditionalProperties><t:FieldURI FieldURI="message:IsRead"/></t:AdditionalProperties>`), { auth: basicFor(WRITER.mail) }), "GetItem");
    expect(got.Items.Message[0].IsRead).toBe("false");
  });

  it("NeverOverwrite refuses a stale ChangeKey; AutoResolve takes it; a gone item is not found", async () => {
    const id = await deliver(t.emulator, WRITER.mail, sampleMime("Conflict", { to: WRITER.mail }));
    const stale = (await graphMessage(WRITER.id, id)).changeKey as string;
    await call(t.emulator, "PATCH", `/v1.0/users/${WRITER.id}/messages/${id}`, { token: graph, body: { isRead: true } });
    const refused = messages(await ews(t.emulator, markXml(id, false, { changeKey: stale, conflict: "NeverOverwrite" }), { auth: basicFor(WRITER.mail) }), "UpdateItem")[0];
    expect(refused.ResponseCode).toBe("ErrorIrresolvableConflict");
    expect((await graphMessage(WRITER.id, id)).isRead).toBe(true);
    success(await ews(t.emulator, markXml(id, false, { changeKey: stale, conflict: "AutoResolve" }), { auth: basicFor(WRITER.mail) }), "UpdateItem");
    expect((await graphMessage(WRITER.id, id)).isRead).toBe(false);

    await call(t.emulator, "DELETE", `/v1.0/users/${WRITER.id}/messages/${id}`, { token: graph });
    expect(messages(await ews(t.emulator, markXml(id, true), { auth: basicFor(WRITER.mail) }), "UpdateItem")[0].ResponseCode).toBe("ErrorItemNotFound");
  });

  it("a read-only mailbox answers ErrorAccessDenied until it is writable again", async () => {
    const id = await deliver(t.emulator, WRITER.mail, sampleMime("Read-only", { to: WRITER.mail }));
    await call(t.emulator, "POST", "/_emulator/ews/read-only", { body: { user: WRITER.mail, readOnly: true } });
    const denied = messages(await ews(t.emulator, markXml(id, true), { auth: basicFor(WRITER.mail) }), "UpdateItem")[0];
    expect(denied).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorAccessDenied", MessageText: "Access is denied. Check credentials and try again." });
    expect((await graphMessage(WRITER.id, id)).isRead).toBe(false);
    await call(t.emulator, "POST", "/_emulator/ews/read-only", { body: { user: WRITER.mail, readOnly: false } });
    success(await ews(t.emulator, markXml(id, true), { auth: basicFor(WRITER.mail) }), "UpdateItem");
  });
});

describe("CreateItem", () => {
  const outgoing = (extra: string) =>
    Buffer.from(`From: ${SENDER.mail}\r\n${extra}Subject: Réponse\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour é\r\n`, "utf8");

  it("SendAndSaveCopy sends as the mailbox: delivered without Bcc, a copy in Sent Items, a line in the sent log", async () => {
    const mime = outgoing(`To: ${TO.mail}\r\nCc: someone@example.org\r\nBcc: ${HIDDEN.mail}\r\n`);
    const r = success(await ews(t.emulator, createXml("SendAndSaveCopy", mime.toString("base64"), "sentitems"), { auth: basicFor(SENDER.mail) }), "CreateItem");
    expect(r.Items).toBe("");

    const sent = (await call(t.emulator, "GET", `/_emulator/messages?user=${SENDER.mail}&folder=sentitems`)).json as { subject: string; mimeBase64: string }[];
    expect(sent.map((m) => m.subject)).toEqual(["Réponse"]);
    for (const user of [TO, HIDDEN]) {
      const inbox = (await call(t.emulator, "GET", `/_emulator/messages?user=${user.mail}`)).json as { subject: string; mimeBase64: string }[];
      expect(inbox.map((m) => m.subject)).toEqual(["Réponse"]);
      const delivered = Buffer.from(inbox[0]?.mimeBase64 ?? "", "base64").toString("utf8");
      expect(delivered).not.toMatch(/^Bcc:/im);
      expect(delivered).toMatch(/^Message-ID: <.+>\r$/m);
      expect(delivered.endsWith("Bonjour é\r\n")).toBe(true);
    }
    const log = (await call(t.emulator, "GET", "/_emulator/sent")).json as Record<string, unknown>[];
    expect(log.at(-1)).toMatchObject({ from: SENDER.mail, to: [TO.mail], cc: ["someone@example.org"], bcc: [HIDDEN.mail], via: "ews" });
  });

  it("SendOnly keeps no copy; SaveOnly saves a draft and returns its id", async () => {
    success(await ews(t.emulator, createXml("SendOnly", outgoing(`To: ${TO.mail}\r\n`).toString("base64")), { auth: basicFor(SENDER.mail) }), "CreateItem");
    const sentCount = ((await call(t.emulator, "GET", `/_emulator/messages?user=${SENDER.mail}&folder=sentitems`)).json as unknown[]).length;
    expect(sentCount).toBe(1);

    const draft = success(await ews(t.emulator, createXml("SaveOnly", outgoing("").toString("base64")), { auth: basicFor(SENDER.mail) }), "CreateItem");
    const id = draft.Items.Message[0].ItemId["@Id"] as string;
    const drafts = (await call(t.emulator, "GET", `/_emulator/messages?user=${SENDER.mail}&folder=drafts`)).json as { id: string }[];
    expect(drafts.map((d) => d.id)).toEqual([id]);
    expect(((await call(t.emulator, "GET", "/_emulator/sent")).json as unknown[]).length).toBe(2);
  });

  it("refuses MIME it cannot read and a message without recipients", async () => {
    const bad = messages(await ews(t.emulator, createXml("SendAndSaveCopy", "not base64!"), { auth: basicFor(SENDER.mail) }), "CreateItem")[0];
    expect(bad.ResponseCode).toBe("ErrorMimeContentConversionFailed");
    const none = messages(await ews(t.emulator, createXml("SendAndSaveCopy", outgoing("").toString("base64")), { auth: basicFor(SENDER.mail) }), "CreateItem")[0];
    expect(none.ResponseCode).toBe("ErrorInvalidRecipients");
  });
});

describe("faults", () => {
  const inbox = soap(`<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>${folderXml("inbox")}</m:FolderIds></m:GetFolder>`);

  it("a 429 or 500 fault is HTTP 500 ErrorServerBusy with BackOffMilliseconds; 503 is plain HTTP; Graph is not touched", async () => {
    const before = (await call(t.emulator, "GET", "/_emulator/stats")).json;
    await call(t.emulator, "POST", "/_emulator/faults", { body: { fail: { match: "ews", status: 429, retryAfterSeconds: 3, times: 1 } } });
    expect((await call(t.emulator, "GET", `/v1.0/users/${READER.id}/messages`, { token: graph })).status).toBe(200);
    const busy = await ews(t.emulator, inbox, { auth: basicFor(READER.mail) });
    expect(busy.status).toBe(500);
    expect(busy.headers["content-type"]).toBe("text/xml; charset=utf-8");
    expect(fault(busy)).toEqual({ faultcode: "a:ErrorServerBusy", responseCode: "ErrorServerBusy", backOffMs: "3000" });
    expect(busy.doc.Envelope.Body.Fault.faultstring["#text"]).toBe("The server cannot service this request right now. Try again later.");
    expect((await ews(t.emulator, inbox, { auth: basicFor(READER.mail) })).status).toBe(200);
    const after = (await call(t.emulator, "GET", "/_emulator/stats")).json;
    expect(after.ews - before.ews).toBe(2);
    expect(after.throttled - before.throttled).toBe(1);

    await call(t.emulator, "POST", "/_emulator/faults", { body: { fail: { match: "ews", status: 500, retryAfterSeconds: null, times: 1 } } });
    expect(fault(await ews(t.emulator, inbox, { auth: basicFor(READER.mail) })).backOffMs).toBe("2000");
    await call(t.emulator, "POST", "/_emulator/faults", { body: { fail: { match: "ews", status: 503, retryAfterSeconds: 7, times: 1 } } });
    const unavailable = await ews(t.emulator, inbox, { auth: basicFor(READER.mail) });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers["retry-after"]).toBe("7");
  });

  it("ewsError answers an operation's response messages with an error code, then lets it through", async () => {
    const id = await deliver(t.emulator, READER.mail, sampleMime("Busy", { to: READER.mail }));
    await call(t.emulator, "POST", "/_emulator/faults", { body: { ewsError: { operation: "UpdateItem", code: "ErrorServerBusy", backOffMs: 5000, times: 1 } } });
    const busy = messages(await ews(t.emulator, markXml(id, true), { auth: basicFor(READER.mail) }), "UpdateItem")[0];
    expect(busy).toMatchObject({ "@ResponseClass": "Error", ResponseCode: "ErrorServerBusy", MessageXml: { Value: { "@Name": "BackOffMilliseconds", "#text": "5000" } } });
    expect((await graphMessage(READER.id, id)).isRead).toBe(false);
    success(await ews(t.emulator, markXml(id, true), { auth: basicFor(READER.mail) }), "UpdateItem");

    await call(t.emulator, "POST", "/_emulator/faults", { body: { ewsError: { operation: "GetItem", code: "ErrorAccessDenied", times: 1 } } });
    const denied = messages(await ews(t.emulator, getItemXml([id, id]), { auth: basicFor(READER.mail) }), "GetItem");
    expect(denied.map((m) => m.ResponseCode)).toEqual(["ErrorAccessDenied", "ErrorAccessDenied"]);
    expect(denied[0].MessageXml).toBeUndefined();
    expect(success(await ews(t.emulator, getItemXml([id]), { auth: basicFor(READER.mail) }), "GetItem").ResponseCode).toBe("NoError");
  });
});
