import { simpleParser, type AddressObject, type Attachment, type ParsedMail } from "mailparser";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.js";
import { composeAutoAcknowledgement, composeMessage, type AutoAcknowledgementRequest, type ComposeRequest, type OriginalMessage } from "./compose.js";

/**
 * Every message composed here is read back with mailparser, the way a receiving client would, and
 * the checks are on what it sees: header fields, parts, attachments.
 */

const original = (fields: Partial<OriginalMessage> = {}): OriginalMessage => ({
  internetMessageId: "c-42@customer.example",
  references: ["c-1@customer.example", "s-7@mail.company.example"],
  subject: "Order 1234 not delivered",
  from: { address: "jane@customer.example", name: "Jane Doe" },
  to: [{ address: "support@company.example", name: "Company Support" }],
  cc: [],
  replyTo: [],
  receivedAt: "2025-03-03T13:05:00.000Z",
  text: "Hello,\nwhere is my order?\n\nJane\n",
  html: null,
  ...fields,
});

/** Deterministic ids, different for every call, as the real source is. */
function counter(prefix = "id"): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

const context = () => ({
  from: { address: "support@company.example", displayName: "Company Support" },
  messageIdDomain: "mail.company.example",
  now: new Date("2025-03-04T10:00:00.000Z"),
  randomId: counter(),
  ownAddresses: new Set(["support@company.example", "billing@company.example"]),
});

/** The request variant that K is one of the kinds of ("reply" is in the "reply" | "replyAll" variant). */
type Variant<K extends ComposeRequest["kind"], R = ComposeRequest> = R extends { kind: infer Kinds } ? (K extends Kinds ? R : never) : never;
type Fields<K extends ComposeRequest["kind"]> = Partial<Omit<Variant<K>, "kind">>;

const reply = (fields: Fields<"reply"> = {}) =>
  composeMessage({ ...context(), kind: "reply", original: original(), text: "Your parcel is on its way.", ...fields });
const replyAll = (fields: Fields<"replyAll"> = {}) =>
  composeMessage({ ...context(), kind: "replyAll", original: original(), text: "Thanks, all.", ...fields });
const forward = (fields: Fields<"forward"> = {}) =>
  composeMessage({ ...context(), kind: "forward", original: original(), to: ["warehouse@partner.example"], text: "Please check.", ...fields });
const newEmail = (fields: Fields<"new"> = {}) =>
  composeMessage({ ...context(), kind: "new", to: ["jane@customer.example"], subject: "Your invoice", text: "Attached.", ...fields });

const parse = (raw: Buffer): Promise<ParsedMail> => simpleParser(raw);
const addresses = (field: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((object) => object.value.map(({ address, name }) => ({ address, name })));
/** The part's Content-Type as written: mailparser reports one guessed from the file name for application/octet-stream. */
const declaredType = (part: Attachment) => (part.headers.get("content-type") as { value: string }).value;
const headerBlock = (raw: Buffer) => raw.toString("latin1").split("\r\n\r\n")[0]!;
/** The header fields as they are written, unfolded, by name (lower case). */
function headerLines(raw: Buffer): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const line of headerBlock(raw).replace(/\r\n[ \t]/g, " ").split("\r\n")) {
    const name = line.slice(0, line.indexOf(":")).toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), line.slice(line.indexOf(":") + 1).trim()]);
  }
  return fields;
}

async function invalidInput(promise: Promise<unknown>): Promise<AppError> {
  const error: unknown = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe("invalid_input");
  return error as AppError;
}

describe("recipients of a reply", () => {
  it("replies to the From when the original has no Reply-To", async () => {
    const message = await reply();
    const mail = await parse(message.raw);
    expect(addresses(mail.to)).toEqual([{ address: "jane@customer.example", name: "Jane Doe" }]);
    expect(mail.cc).toBeUndefined();
    expect(message.envelope).toEqual({ from: "support@company.example", to: ["jane@customer.example"] });
  });

  it("replies to the Reply-To instead of the From when there is one", async () => {
    const message = await reply({ original: original({ replyTo: [{ address: "orders@customer.example", name: "Orders" }] }) });
    expect(addresses((await parse(message.raw)).to)).toEqual([{ address: "orders@customer.example", name: "Orders" }]);
    expect(message.envelope.to).toEqual(["orders@customer.example"]);
  });

  it("reply all adds the original To and Cc, without our own addresses and without duplicates, keeping names", async () => {
    const message = await replyAll({
      from: { address: "help@company.example", displayName: "Help" },
      original: original({
        to: [
          { address: "support@company.example", name: "Company Support" },
          { address: "HELP@Company.example", name: "" },
          { address: "bob@customer.example", name: "Bob" },
          { address: "JANE@customer.example", name: "" },
        ],
        cc: [
          { address: "Billing@company.example", name: "" },
          { address: "carol@customer.example", name: "Carol" },
          { address: "BOB@customer.example", name: "Bobby" },
        ],
      }),
    });
    const mail = await parse(message.raw);
    expect(addresses(mail.to)).toEqual([
      { address: "jane@customer.example", name: "Jane Doe" },
      { address: "bob@customer.example", name: "Bob" },
    ]);
    expect(addresses(mail.cc)).toEqual([{ address: "carol@customer.example", name: "Carol" }]);
    expect(message.envelope.to).toEqual(["jane@customer.example", "bob@customer.example", "carol@customer.example"]);
  });

  it("a plain reply goes to the sender only, not to the original's other recipients", async () => {
    const message = await reply({ original: original({ to: [{ address: "bob@customer.example", name: "Bob" }], cc: [{ address: "carol@customer.example", name: "" }] }) });
    expect(message.envelope.to).toEqual(["jane@customer.example"]);
  });

  it("To and Cc given in the request replace the computed ones, with the names the original gives them", async () => {
    const message = await replyAll({
      original: original({ cc: [{ address: "carol@customer.example", name: "Carol" }] }),
      to: ["bob@partner.example"],
      cc: ["Carol@customer.example"],
    });
    const mail = await parse(message.raw);
    expect(addresses(mail.to)).toEqual([{ address: "bob@partner.example", name: "" }]);
    expect(addresses(mail.cc)).toEqual([{ address: "Carol@customer.example", name: "Carol" }]);
  });

  it("an explicit empty To replaces the computed one too", async () => {
    const message = await reply({ to: [], cc: ["bob@partner.example"] });
    expect(message.to).toEqual([]);
    expect(message.envelope.to).toEqual(["bob@partner.example"]);
  });

  it("refuses a reply with nobody to send it to, saying what to do", async () => {
    const error = await invalidInput(reply({ original: original({ from: { address: "", name: "Jane" } }) }));
    expect(error.details).toEqual([{ path: "to", message: expect.stringContaining("enter the recipient in To") }]);
  });

  it("refuses a typed recipient that is not an address, naming the field", async () => {
    const error = await invalidInput(newEmail({ to: ["jane@customer.example", "not an address"] }));
    expect(error.details?.[0]?.path).toBe("to[1]");
  });
});

describe("envelope and Bcc", () => {
  it("puts Bcc recipients in the envelope only, every recipient once, domains lower-cased", async () => {
    const message = await newEmail({ to: ["Jane@Customer.EXAMPLE"], cc: ["jane@customer.example", "bob@partner.example"], bcc: ["audit@Company.Example", "BOB@partner.example"] });
    expect(message.envelope.to).toEqual(["Jane@customer.example", "bob@partner.example", "audit@company.example"]);
    expect(message.bcc).toEqual([{ address: "audit@company.example", name: "" }]);
    expect(message.raw.toString("latin1")).not.toMatch(/audit@/i);
    expect(headerLines(message.raw).has("bcc")).toBe(false);
  });
});

describe("subject", () => {
  it.each([
    ["Order 1234", "Re: Order 1234"],
    ["Re: Order 1234", "Re: Order 1234"],
    ["RE: Order 1234", "RE: Order 1234"],
    ["Aw: Bestellung", "Aw: Bestellung"],
    ["AW: Bestellung", "AW: Bestellung"],
    ["SV: Beställning", "SV: Beställning"],
    ["re[2]: Order", "re[2]: Order"],
    ["Fwd: Order 1234", "Re: Fwd: Order 1234"],
    ["Rebate request", "Re: Rebate request"],
    ["", "Re:"],
  ])("a reply to %j is %j", async (subject, expected) => {
    const message = await reply({ original: original({ subject }) });
    expect((await parse(message.raw)).subject).toBe(expected);
    expect(message.subject).toBe(expected);
  });

  it.each([
    ["Order 1234", "Fwd: Order 1234"],
    ["Fwd: Order 1234", "Fwd: Order 1234"],
    ["FW: Order 1234", "FW: Order 1234"],
    ["WG: Bestellung", "WG: Bestellung"],
    ["Re: Order 1234", "Fwd: Re: Order 1234"],
    ["", "Fwd:"],
  ])("a forward of %j is %j", async (subject, expected) => {
    expect((await parse((await forward({ original: original({ subject }) })).raw)).subject).toBe(expected);
  });

  it("an explicit subject wins; a blank one leaves the computed subject", async () => {
    expect((await parse((await reply({ subject: "Your refund" })).raw)).subject).toBe("Your refund");
    expect((await parse((await reply({ subject: "  " })).raw)).subject).toBe("Re: Order 1234 not delivered");
  });
});

describe("threading", () => {
  it("a reply names the original in In-Reply-To and ends References with it", async () => {
    const message = await reply();
    const mail = await parse(message.raw);
    expect(mail.inReplyTo).toBe("<c-42@customer.example>");
    expect(mail.references).toEqual(["<c-1@customer.example>", "<s-7@mail.company.example>", "<c-42@customer.example>"]);
    expect(message.inReplyTo).toBe("c-42@customer.example");
    expect(message.references).toEqual(["c-1@customer.example", "s-7@mail.company.example", "c-42@customer.example"]);
  });

  it("names an id once even when the original's References already hold it", async () => {
    const message = await reply({ original: original({ references: ["c-1@customer.example", "c-42@customer.example", "c-1@customer.example"] }) });
    expect(message.references).toEqual(["c-1@customer.example", "c-42@customer.example"]);
  });

  it("keeps References bounded in a long thread: the root and the most recent ids", async () => {
    const long = Array.from({ length: 60 }, (_, i) => `m${i}@customer.example`);
    const message = await reply({ original: original({ references: long }) });
    const mail = await parse(message.raw);
    const ids = Array.isArray(mail.references) ? mail.references : [mail.references];
    expect(ids).toHaveLength(20);
    expect(ids[0]).toBe("<m0@customer.example>");
    expect(ids.slice(1)).toEqual([...long.slice(42).map((id) => `<${id}>`), "<c-42@customer.example>"]);
  });

  it("without the original's Message-ID there is no In-Reply-To, and its References are kept", async () => {
    const message = await reply({ original: original({ internetMessageId: null }) });
    const mail = await parse(message.raw);
    expect(mail.inReplyTo).toBeUndefined();
    expect(mail.references).toEqual(["<c-1@customer.example>", "<s-7@mail.company.example>"]);
  });

  it("a forward references the original like a reply, so an answer to it joins the customer's thread", async () => {
    const mail = await parse((await forward()).raw);
    expect(mail.inReplyTo).toBe("<c-42@customer.example>");
    expect(mail.references).toContain("<c-42@customer.example>");
  });

  it("a new email has neither In-Reply-To nor References", async () => {
    const message = await newEmail();
    const fields = headerLines(message.raw);
    expect(fields.has("in-reply-to")).toBe(false);
    expect(fields.has("references")).toBe(false);
    expect([message.inReplyTo, message.references]).toEqual([null, []]);
  });
});

describe("identity of the message", () => {
  it("has its own Message-ID from randomId and the domain, a Date from now, the From with its name, MIME-Version", async () => {
    const message = await reply({ from: { address: "support@company.example", displayName: "Company Support" } });
    const mail = await parse(message.raw);
    expect(message.internetMessageId).toBe("id1@mail.company.example");
    expect(mail.messageId).toBe("<id1@mail.company.example>");
    expect(mail.date?.toISOString()).toBe("2025-03-04T10:00:00.000Z");
    expect(addresses(mail.from)).toEqual([{ address: "support@company.example", name: "Company Support" }]);
    expect(headerLines(message.raw).get("mime-version")).toEqual(["1.0"]);
  });

  it("gives every message a new Message-ID", async () => {
    const randomId = counter("r");
    const first = await reply({ randomId });
    const second = await reply({ randomId });
    expect(first.internetMessageId).not.toBe(second.internetMessageId);
  });

  it("an agent's reply is not marked as automatic", async () => {
    const fields = headerLines((await reply()).raw);
    expect(fields.has("auto-submitted")).toBe(false);
    expect(fields.has("x-auto-response-suppress")).toBe(false);
  });

  it("is the same bytes for the same request, in CRLF line endings", async () => {
    const first = await reply({ html: "<p>Hi</p>", attachments: [{ filename: "a.txt", contentType: "text/plain", content: Buffer.from("a\nb\n") }] });
    const second = await reply({ html: "<p>Hi</p>", attachments: [{ filename: "a.txt", contentType: "text/plain", content: Buffer.from("a\nb\n") }] });
    expect(first.raw.equals(second.raw)).toBe(true);
    expect(first.raw.toString("latin1")).not.toMatch(/[^\r]\n|\r(?!\n)/);
  });

  it("refuses a From that is no address and a display name with a line break", async () => {
    expect((await invalidInput(reply({ from: { address: "support", displayName: "" } }))).details?.[0]?.path).toBe("from");
    expect((await invalidInput(reply({ from: { address: "support@company.example", displayName: "Support\r\nBcc: evil@x.example" } }))).details?.[0]?.path).toBe("from");
  });
});

describe("the quoted original", () => {
  it("quotes the original text under an attribution line, every line prefixed", async () => {
    const mail = await parse((await reply({ text: "Your parcel is on its way.\n" })).raw);
    expect(mail.text).toBe(
      "Your parcel is on its way.\n\nOn Mon, 3 Mar 2025 at 13:05 UTC, Jane Doe <jane@customer.example> wrote:\n> Hello,\n> where is my order?\n> \n> Jane\n",
    );
    expect(mail.html).toBe(false);
  });

  it("writes the date of the attribution in the time zone asked for", async () => {
    const mail = await parse((await reply({ timeZone: "Europe/Berlin" })).raw);
    expect(mail.text).toContain("On Mon, 3 Mar 2025 at 14:05 GMT+1, Jane Doe");
  });

  it("in HTML, quotes the original's sanitized HTML in a blockquote after the agent's HTML", async () => {
    const mail = await parse((await reply({ html: "<p>Your parcel is on its way.</p>", original: original({ html: "<p>Where is <b>my order</b>?</p>" }) })).raw);
    const html = String(mail.html);
    expect(html.indexOf("<p>Your parcel is on its way.</p>")).toBe(0);
    expect(html).toMatch(/<blockquote[^>]*>\s*<p>Where is <b>my order<\/b>\?<\/p>\s*<\/blockquote>/);
    expect(html).toContain("Jane Doe &lt;jane@customer.example&gt; wrote:");
  });

  it("in HTML, quotes the original's text escaped when it has no HTML", async () => {
    const mail = await parse((await reply({ html: "<p>Hi</p>", original: original({ text: "Is 2 < 3 & <script>x</script>?\nYes", html: null }) })).raw);
    expect(String(mail.html)).toMatch(/<blockquote[^>]*>\s*Is 2 &lt; 3 &amp; &lt;script&gt;x&lt;\/script&gt;\?<br>\s*Yes\s*<\/blockquote>/);
  });

  it("quotes only the body's content when the original's HTML is a whole document", async () => {
    const html = "<html><head><title>Order</title></head><BODY class=\"x\"><p>Inner</p></BODY></html>";
    const mail = await parse((await reply({ html: "<p>Hi</p>", original: original({ html }) })).raw);
    expect(String(mail.html)).toMatch(/<blockquote[^>]*>\s*<p>Inner<\/p>\s*<\/blockquote>/);
    expect(String(mail.html)).not.toContain("<title>");
  });

  it("puts the quote inside the agent's document when the agent's HTML is a whole one", async () => {
    const mail = await parse((await reply({ html: "<html><body><p>Hi</p></body></html>" })).raw);
    expect(String(mail.html)).toMatch(/<p>Hi<\/p>.*<blockquote.*<\/blockquote>.*<\/body><\/html>\s*$/s);
  });
});

describe("forward", () => {
  it("adds a forwarded-message block with From, Date, Subject and To, then the original text", async () => {
    const mail = await parse((await forward({ text: "Please check this one." })).raw);
    expect(mail.text).toBe(
      [
        "Please check this one.",
        "",
        "---------- Forwarded message ---------",
        "From: Jane Doe <jane@customer.example>",
        "Date: Mon, 3 Mar 2025 at 13:05 UTC",
        "Subject: Order 1234 not delivered",
        "To: Company Support <support@company.example>",
        "",
        "Hello,\nwhere is my order?\n\nJane\n",
      ].join("\n"),
    );
    expect(addresses(mail.to)).toEqual([{ address: "warehouse@partner.example", name: "" }]);
  });

  it("attaches the original's attachments after the agent's own", async () => {
    const mail = await parse(
      (
        await forward({
          attachments: [{ filename: "note.txt", contentType: "text/plain", content: Buffer.from("see below") }],
          originalAttachments: [{ filename: "receipt.pdf", contentType: "application/pdf", content: Buffer.from("%PDF-1.4 receipt") }],
        })
      ).raw,
    );
    expect(mail.attachments.map((part) => [part.filename, part.contentType, part.content.toString()])).toEqual([
      ["note.txt", "text/plain", "see below"],
      ["receipt.pdf", "application/pdf", "%PDF-1.4 receipt"],
    ]);
  });

  it("escapes the original's fields in the HTML block", async () => {
    const mail = await parse((await forward({ html: "<p>FYI</p>", original: original({ subject: "<img src=x onerror=alert(1)>" }) })).raw);
    expect(String(mail.html)).toContain("Subject: &lt;img src=x onerror=alert(1)&gt;<br>");
  });

  it("refuses a forward without a recipient", async () => {
    expect((await invalidInput(forward({ to: [] }))).details?.[0]?.message).toBe("Enter at least one recipient in To, Cc or Bcc.");
  });
});

describe("header injection", () => {
  it("refuses a subject with a line break instead of letting it add a Bcc", async () => {
    const error = await invalidInput(reply({ subject: "Hi\r\nBcc: evil@x.example" }));
    expect(error.details?.[0]?.path).toBe("subject");
    expect(error.message).toContain("single line");
  });

  it.each(["Hi\nBcc: evil@x.example", "Hi\u0000there", "Hi\u2028Bcc: evil@x.example"])("refuses the subject %j", async (subject) => {
    await invalidInput(newEmail({ subject }));
  });

  it("refuses an address with a line break in it", async () => {
    await invalidInput(newEmail({ to: ["jane@customer.example\r\nBcc: evil@x.example"] }));
    await invalidInput(newEmail({ bcc: ["a@b.example>\r\nX-Evil: 1"] }));
  });

  it("makes one line of a subject, name and file name from the customer's message, adding no header", async () => {
    const message = await forward({
      original: original({ subject: "Hi\r\nBcc: evil@x.example", from: { address: "jane@customer.example", name: "Jane\r\nX-Evil: 1" } }),
      originalAttachments: [{ filename: "a\r\nX-Evil: 2.txt", contentType: "text/plain\r\nX-Evil: 3", content: Buffer.from("x") }],
    });
    const mail = await parse(message.raw);
    expect(mail.subject).toBe("Fwd: Hi Bcc: evil@x.example");
    expect(mail.headers.has("bcc")).toBe(false);
    expect(mail.headers.has("x-evil")).toBe(false);
    expect(mail.attachments[0]?.filename).toBe("a X-Evil: 2.txt");
    expect(declaredType(mail.attachments[0]!)).toBe("application/octet-stream");
    expect(message.envelope.to).toEqual(["warehouse@partner.example"]);
  });
});

describe("international text", () => {
  it("encodes German and Japanese subjects and names (RFC 2047) and parses back to the same text", async () => {
    const message = await reply({
      from: { address: "support@company.example", displayName: "Kundenservice Müller & Söhne" },
      original: original({ subject: "Lieferung verspätet – 注文の配達について", from: { address: "taro@customer.example", name: "山田 太郎" } }),
      text: "Grüße aus Köln – よろしくお願いします",
    });
    expect(headerBlock(message.raw)).toMatch(/^[\x20-\x7e\r\n\t]*$/);
    const mail = await parse(message.raw);
    expect(mail.subject).toBe("Re: Lieferung verspätet – 注文の配達について");
    expect(addresses(mail.from)).toEqual([{ address: "support@company.example", name: "Kundenservice Müller & Söhne" }]);
    expect(addresses(mail.to)).toEqual([{ address: "taro@customer.example", name: "山田 太郎" }]);
    expect(mail.text).toContain("Grüße aus Köln – よろしくお願いします\n\nOn Mon, 3 Mar 2025 at 13:05 UTC, 山田 太郎 <taro@customer.example> wrote:");
  });
});

describe("attachments", () => {
  it("are base64 parts with the given file name and content type, bytes unchanged", async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const message = await newEmail({
      attachments: [
        { filename: "Rechnung März.pdf", contentType: "application/pdf", content: binary },
        { filename: "notes.txt", contentType: "text/plain; charset=utf-8", content: Buffer.from("a\nb") },
      ],
    });
    const mail = await parse(message.raw);
    expect(mail.attachments.map((part) => [part.filename, part.contentType, part.contentDisposition])).toEqual([
      ["Rechnung März.pdf", "application/pdf", "attachment"],
      ["notes.txt", "text/plain", "attachment"],
    ]);
    expect(mail.attachments[0]?.content.equals(binary)).toBe(true);
    expect(mail.attachments[1]?.content.toString()).toBe("a\nb");
    expect(mail.attachments.map((part) => part.headers.get("content-transfer-encoding"))).toEqual(["base64", "base64"]);
  });

  it("sends an attached email that is not plain ASCII as application/octet-stream, since message/rfc822 may not be base64", async () => {
    const message = await forward({
      originalAttachments: [
        { filename: "plain.eml", contentType: "message/rfc822", content: Buffer.from("Subject: plain\r\n\r\nascii\r\n") },
        { filename: "umlaut.eml", contentType: "message/rfc822", content: Buffer.from("Subject: x\r\n\r\nGrüße\r\n") },
      ],
    });
    const mail = await parse(message.raw);
    expect(mail.attachments.map((part) => [part.filename, declaredType(part)])).toEqual([
      ["plain.eml", "message/rfc822"],
      ["umlaut.eml", "application/octet-stream"],
    ]);
    expect(mail.attachments[1]?.content.toString()).toBe("Subject: x\r\n\r\nGrüße\r\n");
  });
});

describe("automatic acknowledgement", () => {
  const acknowledgement = (fields: Partial<AutoAcknowledgementRequest> = {}) =>
    composeAutoAcknowledgement({
      ...context(),
      template: { subject: "[#{{referenceNumber}}] {{subject}}", text: "Dear {{customerName}},\nwe received your message about \"{{subject}}\".\nReference: {{ referenceNumber }}\n{{unknown}} stays." },
      customerName: "Jane Doe",
      customerAddress: "jane@customer.example",
      referenceNumber: "MR-1001",
      original: original(),
      ...fields,
    });

  it("is marked as an automatic reply (RFC 3834, and Microsoft's header) and has no Precedence", async () => {
    const fields = headerLines((await acknowledgement()).raw);
    expect(fields.get("auto-submitted")).toEqual(["auto-replied"]);
    expect(fields.get("x-auto-response-suppress")).toEqual(["All"]);
    expect(fields.has("precedence")).toBe(false);
  });

  it("fills the placeholders in subject and text and leaves unknown ones as written", async () => {
    const message = await acknowledgement();
    const mail = await parse(message.raw);
    expect(mail.subject).toBe("[#MR-1001] Order 1234 not delivered");
    expect(mail.text).toBe('Dear Jane Doe,\nwe received your message about "Order 1234 not delivered".\nReference: MR-1001\n{{unknown}} stays.\n');
    expect(mail.html).toBe(false);
    expect(addresses(mail.to)).toEqual([{ address: "jane@customer.example", name: "Jane Doe" }]);
  });

  it("does not expand placeholders inside the values", async () => {
    const mail = await parse((await acknowledgement({ customerName: "{{referenceNumber}}", original: original({ subject: "{{customerName}}" }) })).raw);
    expect(mail.text).toContain("Dear {{referenceNumber}},\nwe received your message about \"{{customerName}}\".");
    expect(mail.subject).toBe("[#MR-1001] {{customerName}}");
  });

  it("makes a line break in the customer's name or subject a space, in the subject and the name", async () => {
    const message = await acknowledgement({ customerName: "Jane\r\nBcc: evil@x.example", original: original({ subject: "Hi\r\nX-Evil: 1" }) });
    const mail = await parse(message.raw);
    expect(mail.subject).toBe("[#MR-1001] Hi X-Evil: 1");
    expect(mail.headers.has("x-evil")).toBe(false);
    expect(addresses(mail.to)).toEqual([{ address: "jane@customer.example", name: "Jane Bcc: evil@x.example" }]);
    expect(message.envelope.to).toEqual(["jane@customer.example"]);
  });

  it("threads as a reply to the customer's message", async () => {
    const mail = await parse((await acknowledgement()).raw);
    expect(mail.inReplyTo).toBe("<c-42@customer.example>");
    expect(mail.references).toEqual(["<c-1@customer.example>", "<s-7@mail.company.example>", "<c-42@customer.example>"]);
  });

  it("refuses a subject template of more than one line and a customer address that is none", async () => {
    expect((await invalidInput(acknowledgement({ template: { subject: "Thanks\nBcc: x@y.example", text: "" } }))).details?.[0]?.path).toBe("template.subject");
    expect((await invalidInput(acknowledgement({ customerAddress: "jane" }))).details?.[0]?.path).toBe("customerAddress");
  });
});
