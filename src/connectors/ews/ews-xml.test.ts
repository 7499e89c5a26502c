import { describe, expect, it } from "vitest";
import { headerBlockOf, itemOf, readSyncPage } from "./ews-operations.js";
import { child, envelope, mimeContentOf, parseAnswerText, parseXml, readAnswer, takeEnvelopes } from "./ews-xml.js";

const ns = `xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"`;
const answer = (body: string) => `<?xml version="1.0" encoding="utf-8"?><s:Envelope ${ns}><s:Body>${body}</s:Body></s:Envelope>`;

describe("EWS answers", () => {
  it("reads each response message in order, whatever the namespace prefixes, with its MessageXml values", () => {
    const xml = answer(
      `<m:GetItemResponse><m:ResponseMessages>` +
        `<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:ItemId Id="A1" ChangeKey="c"/><t:Size>12</t:Size></t:Message></m:Items></m:GetItemResponseMessage>` +
        `<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>The specified object was not found in the store.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode></m:GetItemResponseMessage>` +
        `<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>busy</m:MessageText><m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:MessageXml><t:Value Name="BackOffMilliseconds">1234</t:Value></m:MessageXml></m:GetItemResponseMessage>` +
        `</m:ResponseMessages></m:GetItemResponse>`,
    );
    const { messages, fault } = readAnswer(parseXml(xml));
    expect(fault).toBeNull();
    expect(messages.map((m) => [m.responseClass, m.code])).toEqual([
      ["Success", "NoError"],
      ["Error", "ErrorItemNotFound"],
      ["Error", "ErrorServerBusy"],
    ]);
    expect(messages[2]!.values).toEqual({ BackOffMilliseconds: "1234" });
    expect(itemOf(child(messages[0]!.node, "Items"))?.["@ChangeKey"]).toBeUndefined();
    // the same answer without prefixes reads the same
    const bare = readAnswer(parseXml(xml.replace(/<(\/?)[mts]:/g, "<$1")));
    expect(bare.messages.map((m) => m.code)).toEqual(["NoError", "ErrorItemNotFound", "ErrorServerBusy"]);
  });

  it("reads a SOAP fault's code and back-off (throttling)", () => {
    const xml = answer(
      `<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode><faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>` +
        `<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>` +
        `<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml></detail></s:Fault>`,
    );
    expect(readAnswer(parseXml(xml)).fault).toEqual({ code: "ErrorServerBusy", text: "The server cannot service this request right now. Try again later.", values: { BackOffMilliseconds: "297749" } });
  });

  it("splits a streaming answer into envelopes as they complete, keeping a half-arrived one for later", () => {
    const one = answer(`<m:GetStreamingEventsResponse/>`);
    const half = one.slice(0, 70);
    const { envelopes, rest } = takeEnvelopes(one + one + half);
    expect(envelopes).toHaveLength(2);
    expect(envelopes[0]!.startsWith("<s:Envelope")).toBe(true);
    expect(rest).toBe(half);
    expect(takeEnvelopes(rest + one.slice(70)).envelopes).toHaveLength(1);
  });

  it("reads a SyncFolderItems page: created items of any item type, deletions, and whether it was the last", () => {
    const xml = answer(
      `<m:SyncFolderItemsResponse><m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:SyncState>H4sI</m:SyncState><m:IncludesLastItemInRange>false</m:IncludesLastItemInRange><m:Changes>` +
        `<t:Create><t:Message><t:ItemId Id="M1" ChangeKey="k1"/><t:DateTimeReceived>2026-11-30T10:00:00Z</t:DateTimeReceived><t:Size>2048</t:Size><t:IsRead>false</t:IsRead></t:Message></t:Create>` +
        `<t:Create><t:MeetingRequest><t:ItemId Id="M2" ChangeKey="k2"/><t:DateTimeReceived>2026-11-30T10:01:00Z</t:DateTimeReceived><t:Size>4096</t:Size><t:IsRead>true</t:IsRead></t:MeetingRequest></t:Create>` +
        `<t:Delete><t:ItemId Id="M0" ChangeKey="k0"/></t:Delete><t:ReadFlagChange><t:ItemId Id="M1"/><t:IsRead>true</t:IsRead></t:ReadFlagChange>` +
        `</m:Changes></m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>`,
    );
    const page = readSyncPage(readAnswer(parseXml(xml)).messages[0]!);
    expect(page).toEqual({
      syncState: "H4sI",
      last: false,
      created: [
        { id: "M1", receivedAt: "2026-11-30T10:00:00Z", size: 2048, isRead: false },
        { id: "M2", receivedAt: "2026-11-30T10:01:00Z", size: 4096, isRead: true },
      ],
      deleted: ["M0"],
    });
  });

  it("turns the transport headers property into a header block with CRLF line ends and the empty line", () => {
    const xml = answer(
      `<m:GetItemResponse><m:ResponseMessages><m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:ItemId Id="A"/>` +
        `<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x7d" PropertyType="String"/><t:Value>Subject: big &amp; heavy\r\nFrom: a@b.test\r\n\tcontinued\r\n</t:Value></t:ExtendedProperty></t:Message></m:Items></m:GetItemResponseMessage></m:ResponseMessages></m:GetItemResponse>`,
    );
    const item = itemOf(child(readAnswer(parseXml(xml)).messages[0]!.node, "Items"));
    expect(headerBlockOf(item).toString("utf8")).toBe("Subject: big & heavy\r\nFrom: a@b.test\r\n\tcontinued\r\n\r\n");
  });

  it("writes an ExchangeImpersonation header only for an application's token, and escapes what it writes", () => {
    expect(envelope("<m:X/>", null)).not.toContain("ExchangeImpersonation");
    const impersonating = envelope("<m:X/>", "a&b@acme.test");
    expect(impersonating).toContain("<t:PrimarySmtpAddress>a&amp;b@acme.test</t:PrimarySmtpAddress>");
    expect(readAnswer(parseXml(impersonating.replace("<m:X/>", "<m:XResponse/>"))).messages).toEqual([]);
  });

  it("lifts MimeContent out before parsing and gives each item its own bytes back, whatever the prefix", () => {
    const one = Buffer.from("Subject: one\r\n\r\n\u00e9t\u00e9 &<>\r\n", "utf8");
    const two = Buffer.alloc(300_000, 0xfe);
    const xml = answer(
      `<m:GetItemResponse><m:ResponseMessages>` +
        `<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">${one.toString("base64")}</t:MimeContent><t:ItemId Id="A"/></t:Message></m:Items></m:GetItemResponseMessage>` +
        `<GetItemResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode><Items><Message><MimeContent>${two.toString("base64")}</MimeContent><ItemId Id="B"/></Message></Items></GetItemResponseMessage>` +
        `</m:ResponseMessages></m:GetItemResponse>`,
    );
    const { doc, lifted } = parseAnswerText(xml);
    expect(lifted).toHaveLength(2);
    const messages = readAnswer(doc, lifted).messages;
    const bytes = messages.map((m) => mimeContentOf(itemOf(child(m.node, "Items")), m.lifted));
    expect(bytes[0]!.equals(one)).toBe(true);
    expect(bytes[1]!.equals(two)).toBe(true);
    // not lifted (a stream's envelope): read from the parsed text as it is
    const plain = readAnswer(parseXml(xml)).messages[0]!;
    expect(mimeContentOf(itemOf(child(plain.node, "Items")), plain.lifted).equals(one)).toBe(true);
  });
});
