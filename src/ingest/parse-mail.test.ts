import { describe, expect, it } from "vitest";
import { forbiddenHtml } from "../../test/support/html-safety.js";
import { isSafeFilename } from "./attachment-name.js";
import { parseMail } from "./parse-mail.js";
import type { IngestContext } from "./types.js";

const ctx: IngestContext = { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set(["support@company.example"]) };
const eml = (...lines: string[]) => Buffer.from(lines.join("\r\n"), "utf8");
const parse = (raw: Buffer, extra: { size?: number; truncated?: boolean } = {}, context = ctx) =>
  parseMail({ raw, size: extra.size ?? raw.length, truncated: extra.truncated ?? false }, context);

describe("parseMail: an ordinary message", () => {
  const raw = eml(
    "Received: from mx.example by mail.company.example; Mon, 5 Jan 2026 08:00:01 +0000",
    "Message-ID: <order-1@shop.example>",
    "In-Reply-To: <reply-0@company.example>",
    "References: <root@company.example>\r\n <reply-0@company.example>",
    "Date: Mon, 5 Jan 2026 08:00:00 +0000",
    "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <Joerg@Example.COM>",
    "To: Support <support@company.example>, Team: a@x.example, b@x.example;",
    "Cc: boss@example.com",
    "Reply-To: replies@example.com",
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus =?ISO-8859-1?Q?K=F6ln?=",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Hello, where is my order?",
    "--b1",
    "Content-Type: text/html; charset=utf-8",
    "",
    '<p onclick="x()">Hello, where is <b>my order</b>?</p><script>alert(1)</script>',
    "--b1--",
    "",
  );

  it("decodes subject, addresses, text and HTML, and keeps the threading ids", async () => {
    const mail = await parse(raw);
    expect(mail.subject).toBe("Grüße aus Köln");
    expect(mail.from).toEqual({ address: "Joerg@example.com", name: "Jörg Müller" });
    expect(mail.to).toEqual([
      { address: "support@company.example", name: "Support" },
      { address: "a@x.example", name: "" },
      { address: "b@x.example", name: "" },
    ]);
    expect(mail.cc).toEqual([{ address: "boss@example.com", name: "" }]);
    expect(mail.replyTo).toEqual([{ address: "replies@example.com", name: "" }]);
    expect(mail.date?.toISOString()).toBe("2026-01-05T08:00:00.000Z");
    expect(mail.text.trim()).toBe("Hello, where is my order?");
    expect(mail.html).toBe("<p>Hello, where is <b>my order</b>?</p>");
    expect(mail.messageId).toBe("order-1@shop.example");
    expect(mail.inReplyTo).toEqual(["reply-0@company.example"]);
    expect(mail.references).toEqual(["root@company.example", "reply-0@company.example"]);
    expect(mail.flags).toEqual({ autoReply: false, bounce: false, loop: false, wrapped: null });
    expect(mail.attachments).toEqual([]);
  });

  it("gets the same content fingerprint when delivered again under other trace headers", async () => {
    const again = Buffer.concat([eml("Delivered-To: support@company.example", "X-Spam-Status: No", ""), raw]);
    expect((await parse(again)).contentHash).toBe((await parse(raw)).contentHash);
  });

  it("gets another content fingerprint when the Message-ID is reused for other content", async () => {
    const other = Buffer.from(raw.toString("utf8").replace("Hello, where is my order?", "Please cancel my order."), "utf8");
    expect((await parse(other)).contentHash).not.toBe((await parse(raw)).contentHash);
  });

  it("flags mail from Mailroom's own address as a loop", async () => {
    const own = Buffer.from(raw.toString("utf8").replace("<Joerg@Example.COM>", "<Support@Company.example>"), "utf8");
    expect((await parse(own)).flags.loop).toBe(true);
  });
});

describe("parseMail: header decoding", () => {
  it("decodes RFC 6532 raw UTF-8 headers and 8-bit Latin-1 headers", async () => {
    const utf8 = await parse(eml("From: Jürgen <jürgen@bücher.example>", "Subject: Grüße, 東京", "", "x"));
    expect(utf8.subject).toBe("Grüße, 東京");
    expect(utf8.from).toEqual({ address: "jürgen@bücher.example", name: "Jürgen" });
    const latin1 = await parse(Buffer.concat([Buffer.from("From: J"), Buffer.from([0xfc]), Buffer.from("rgen <j@x.example>\r\nSubject: M"), Buffer.from([0xfc]), Buffer.from("nchen\r\n\r\nx")]));
    expect(latin1.subject).toBe("München");
    expect(latin1.from.name).toBe("Jürgen");
  });

  it("decodes mixed and broken encoded words without letting CR/LF through", async () => {
    const mail = await parse(
      eml(
        "From: =?UTF-8?Q?Help=0D=0ABcc=3A_victim=40x=2Eexample?= <help@shop.example>",
        "Subject: =?UTF-8?B?SGVsbG8NCkJjYzogZXZpbEB4LmV4YW1wbGU=?= =?KOI8-R?B?8NLJ18XU?= =?x-unknown?Q?ok?= =?UTF-8?B?###?=",
        "",
        "x",
      ),
    );
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toMatch(/^Hello Bcc: evil@x\.example ?Привет/);
    expect(mail.from.name).toBe("Help Bcc: victim@x.example");
    expect(mail.from.address).toBe("help@shop.example");
  });

  it("gives the empty address when there is no From", async () => {
    const mail = await parse(eml("To: support@company.example", "Subject: anonymous", "", "hello"));
    expect(mail.from).toEqual({ address: "", name: "" });
    expect(mail.flags.wrapped).toBeNull();
  });

  it("reads garbled threading headers", async () => {
    const mail = await parse(eml("From: a@x.example", "Message-ID: <m@x\r\n .example>", "In-Reply-To: <p@x.example> (Ann's message of Monday)", "References: p0@x.example <p@x.example", "", "x"));
    expect(mail.messageId).toBe("m@x.example");
    expect(mail.inReplyTo).toEqual(["p@x.example"]);
    expect(mail.references).toEqual(["p0@x.example", "p@x.example"]);
  });
});

describe("parseMail: bodies", () => {
  it("derives text from HTML when there is no text part", async () => {
    const mail = await parse(eml("From: a@x.example", "Content-Type: text/html; charset=utf-8", "", "<p>Line&nbsp;1</p><div>Line 2<br>Line 3</div><script>x()</script>"));
    expect(mail.text).toBe("Line 1\n\nLine 2\nLine 3");
    expect(mail.html).toBe("<p>Line\u00a01</p><div>Line 2<br />Line 3</div>");
  });

  it("leaves html null when there is no HTML", async () => {
    const mail = await parse(eml("From: a@x.example", "Subject: plain", "", "just text"));
    expect(mail.html).toBeNull();
    expect(mail.text).toBe("just text");
  });

  it("keeps a body that has no usable MIME structure instead of dropping it", async () => {
    const mail = await parse(eml("From: a@x.example", "Content-Type: multipart/mixed", "", "--XX", "Content-Type: text/plain", "", "hello", "--XX--", ""));
    expect(mail.text).toContain("hello");
  });

  it("decodes legacy body charsets", async () => {
    const sjis = Buffer.concat([eml("From: a@x.example", "Content-Type: text/plain; charset=Shift_JIS", "", ""), Buffer.from([0x82, 0xb1, 0x82, 0xf1, 0x82, 0xc9, 0x82, 0xbf, 0x82, 0xcd])]);
    expect((await parse(sjis)).text).toBe("こんにちは");
    const cp1252 = Buffer.concat([eml("From: a@x.example", "Content-Type: text/plain; charset=windows-1252", "", ""), Buffer.from([0x93, 0x80, 0x35, 0x94])]);
    expect((await parse(cp1252)).text).toBe("“€5”");
  });
});

describe("parseMail: attachments", () => {
  const raw = eml(
    "From: a@x.example",
    "Subject: files",
    'Content-Type: multipart/mixed; boundary="m"',
    "",
    "--m",
    'Content-Type: multipart/related; boundary="r"',
    "",
    "--r",
    "Content-Type: text/html",
    "",
    '<p>Logo: <img src="cid:logo@shop.example"></p>',
    "--r",
    "Content-Type: image/png",
    "Content-ID: <logo@shop.example>",
    "Content-Transfer-Encoding: base64",
    "",
    "iVBORw0KGgo=",
    "--r--",
    "--m",
    "Content-Type: application/pdf",
    "Content-Disposition: attachment;",
    " filename*0*=ISO-8859-1''R%E9sum%E9%20;",
    ' filename*1="final.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0xLjQK",
    "--m",
    "Content-Type: application/pdf",
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0xLjQK",
    "--m",
    'Content-Type: application/octet-stream; name="../../etc/passwd"',
    "",
    "root:x:0:0",
    "--m",
    "Content-Type: message/rfc822",
    'Content-Disposition: attachment; filename="Fwd: your order"',
    "",
    "From: inner@x.example",
    "Subject: inner",
    "",
    "inner body",
    "--m",
    "Content-Type: message/rfc822",
    "",
    "From: inner2@x.example",
    "Subject: inner2",
    "",
    "inner body 2",
    "--m--",
    "",
  );

  it("names, marks and keeps every part", async () => {
    const mail = await parse(raw);
    const summary = mail.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, inline: a.inline, contentId: a.contentId, size: a.size }));
    expect(summary).toEqual([
      { filename: "attachment-1.png", contentType: "image/png", inline: true, contentId: "logo@shop.example", size: 8 },
      { filename: "Résumé final.pdf", contentType: "application/pdf", inline: false, contentId: null, size: 9 },
      { filename: "attachment-3.pdf", contentType: "application/pdf", inline: false, contentId: null, size: 9 },
      { filename: "passwd", contentType: "application/octet-stream", inline: false, contentId: null, size: 10 },
      { filename: "Fwd_ your order.eml", contentType: "message/rfc822", inline: false, contentId: null, size: expect.any(Number) },
      { filename: "attachment-6.eml", contentType: "message/rfc822", inline: false, contentId: null, size: expect.any(Number) },
    ]);
    expect(mail.attachments[4]!.content.toString()).toContain("inner body");
    expect(mail.text).not.toContain("inner body");
    expect(mail.html).toContain('src="cid:logo@shop.example"');
    expect(mail.attachments.every((a) => isSafeFilename(a.filename) && Buffer.isBuffer(a.content))).toBe(true);
  });
});

describe("parseMail: mail that cannot be imported as it is", () => {
  const headers = eml(
    "Message-ID: <big@x.example>",
    "Date: Mon, 5 Jan 2026 08:00:00 +0000",
    "From: =?UTF-8?Q?J=C3=B6rg?= <j@x.example>",
    "To: support@company.example",
    "Subject: =?UTF-8?Q?Gro=C3=9Fe_Datei?=",
    "",
  );

  it("wraps a truncated message: decoded headers, both sizes in words, the header block attached", async () => {
    const mail = await parse(headers, { size: 7.5 * 1024 * 1024, truncated: true });
    expect(mail.flags.wrapped).toBe("oversize");
    expect(mail.subject).toBe("Große Datei");
    expect(mail.from).toEqual({ address: "j@x.example", name: "Jörg" });
    expect(mail.to).toEqual([{ address: "support@company.example", name: "" }]);
    expect(mail.messageId).toBe("big@x.example");
    expect(mail.date?.toISOString()).toBe("2026-01-05T08:00:00.000Z");
    expect(mail.text).toContain("7.5 MB");
    expect(mail.text).toContain("Max size of 5 MB");
    expect(mail.text).toContain("not imported in full");
    expect(mail.html).toBeNull();
    expect(mail.attachments.map((a) => [a.filename, a.contentType])).toEqual([["original-headers.txt", "text/plain"]]);
    expect(mail.attachments[0]!.content.toString()).toContain("Subject: =?UTF-8?Q?Gro=C3=9Fe_Datei?=");
  });

  it("wraps a message whose size exceeds Max size even when it was fetched whole", async () => {
    const whole = Buffer.concat([headers, Buffer.from("body")]);
    const mail = await parse(whole, {}, { ...ctx, maxSizeBytes: 100 });
    expect(mail.flags.wrapped).toBe("oversize");
    expect(mail.attachments[0]!.content.toString()).not.toContain("body");
  });

  it("gives truncated copies of one message one content fingerprint, and other sizes another", async () => {
    const a = await parse(headers, { size: 8_000_000, truncated: true });
    const b = await parse(Buffer.concat([eml("Received: from elsewhere", ""), headers]), { size: 8_000_000, truncated: true });
    const c = await parse(headers, { size: 9_000_000, truncated: true });
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.contentHash).not.toBe(c.contentHash);
  });

  it("wraps zero bytes as empty with nothing attached", async () => {
    const mail = await parse(Buffer.alloc(0));
    expect(mail.flags.wrapped).toBe("empty");
    expect(mail.attachments).toEqual([]);
    expect(mail.text).toMatch(/empty message \(0 bytes\)/);
  });

  it("wraps whitespace only as empty and keeps the bytes", async () => {
    const mail = await parse(Buffer.from("  \r\n\r\n \t"));
    expect(mail.flags.wrapped).toBe("empty");
    expect(mail.attachments.map((a) => a.filename)).toEqual(["original.eml"]);
  });

  it("wraps a header block with no From, To or Subject and no body as empty", async () => {
    const mail = await parse(eml("X-Mailer: something", "MIME-Version: 1.0", "", ""));
    expect(mail.flags.wrapped).toBe("empty");
    expect(mail.text).toMatch(/no sender, no recipients, no subject and no content/);
    expect(mail.attachments[0]!.filename).toBe("original.eml");
  });

  it("imports a header block with a subject but no body as an ordinary message", async () => {
    const mail = await parse(eml("From: a@x.example", "Subject: see subject", ""));
    expect(mail.flags.wrapped).toBeNull();
    expect(mail.subject).toBe("see subject");
    expect(mail.text).toBe("");
  });

  it("wraps binary garbage as unparsable and keeps the bytes", async () => {
    const garbage = Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x00, 0x01, 0x02, 0xfe]);
    const mail = await parse(garbage);
    expect(mail.flags.wrapped).toBe("unparsable");
    expect(mail.text).toMatch(/could not be read as an email: it does not start with a header block/);
    expect(mail.attachments[0]!.content.equals(garbage)).toBe(true);
    expect(mail.attachments[0]!.filename).toBe("original.eml");
  });

  it("wraps a message the MIME parser rejects as unparsable, with its decodable headers", async () => {
    const mail = await parse(eml("From: a@x.example", `Subject: ${"A".repeat(1_100_000)}`, "", "x"));
    expect(mail.flags.wrapped).toBe("unparsable");
    expect(mail.text).toMatch(/MIME structure could not be parsed/);
    expect(mail.subject.length).toBeLessThanOrEqual(998);
    expect(mail.attachments[0]!.filename).toBe("original.eml");
  });
});

/** mulberry32, so a failure names a reproducible input */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** CR, LF or NUL: what must never reach a subject, a name or an address */
// eslint-disable-next-line no-control-regex
const lineBreakOrNul = /[\r\n\u0000]/;

describe("parseMail: any bytes at all", () => {
  const template = eml(
    "From: =?UTF-8?Q?A?= <a@x.example>",
    "Subject: =?ISO-8859-1?Q?=E9t=E9?=",
    'Content-Type: multipart/mixed; boundary="q"',
    "",
    "--q",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "<p style=3D\"color:red\">hi <a href=3D\"https://x.example\">x</a></p>",
    "--q",
    "Content-Type: application/pdf; name*=UTF-8''%E2%82%AC.pdf",
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0xLjQK",
    "--q--",
    "",
  );

  it("resolves with a well-formed result for random and mutated input", async () => {
    const random = seeded(20260105);
    for (let round = 0; round < 300; round++) {
      let raw: Buffer;
      if (round % 3 === 0) {
        raw = Buffer.from(Array.from({ length: Math.floor(random() * 400) }, () => Math.floor(random() * 256)));
      } else {
        raw = Buffer.from(template);
        for (let flips = Math.floor(random() * 12); flips > 0; flips--) raw[Math.floor(random() * raw.length)] = Math.floor(random() * 256);
        if (round % 3 === 2) raw = raw.subarray(0, Math.floor(random() * raw.length));
      }
      const mail = await parse(raw);
      expect(mail.subject, `round ${round}`).not.toMatch(lineBreakOrNul);
      expect(mail.contentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(forbiddenHtml(mail.html)).toEqual([]);
      expect(mail.attachments.every((a) => isSafeFilename(a.filename))).toBe(true);
      for (const address of [mail.from, ...mail.to, ...mail.cc, ...mail.replyTo]) expect(`${address.address}${address.name}`).not.toMatch(lineBreakOrNul);
    }
  });
});
