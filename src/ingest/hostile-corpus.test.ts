import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { forbiddenHtml } from "../../test/support/html-safety.js";
import { isSafeFilename } from "./attachment-name.js";
import { parseMail } from "./parse-mail.js";
import type { IngestContext, ParsedMail } from "./types.js";

const corpus = new URL("../../test/corpus/", import.meta.url);
const ctx: IngestContext = { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set(["support@company.example"]) };
// eslint-disable-next-line no-control-regex
const lineBreakOrNul = /[\r\n\u0000]/;

const parse = (raw: Buffer) => parseMail({ raw, size: raw.length, truncated: false }, ctx);

/** What holds for every message, however hostile. */
function expectSafe(mail: ParsedMail): void {
  expect(mail.subject).not.toMatch(lineBreakOrNul);
  for (const a of [mail.from, ...mail.to, ...mail.cc, ...mail.replyTo]) {
    expect(a.address).not.toMatch(lineBreakOrNul);
    expect(a.name).not.toMatch(lineBreakOrNul);
  }
  expect(forbiddenHtml(mail.html)).toEqual([]);
  for (const a of mail.attachments) expect(isSafeFilename(a.filename), a.filename).toBe(true);
  expect(mail.contentHash).toMatch(/^[0-9a-f]{64}$/);
}

const names = (mail: ParsedMail) => mail.attachments.map((a) => a.filename);
const unwrapped = (mail: ParsedMail) => expect(mail.flags.wrapped).toBeNull();

/** What is specific to each message; every file in the corpus must have an entry. */
const expectations: Record<string, (mail: ParsedMail, raw: Buffer) => void> = {
  "charset-iso-8859-1.eml": (m) => {
    expect(m.subject).toBe("Grüße aus Köln");
    expect(m.from).toEqual({ address: "juergen@example.de", name: "Jürgen Köhler" });
    expect(m.text).toContain("Die Größe passt nicht");
  },
  "charset-windows-1252.eml": (m) => {
    expect(m.subject).toBe("“Refund” of €50");
    expect(m.text).toContain("charged €50 – please refund “today”");
  },
  "charset-shift-jis.eml": (m) => {
    expect(m.subject).toBe("注文について");
    expect(m.from.name).toBe("田中");
    expect(m.text).toContain("こんにちは、注文の件です。");
  },
  "charset-koi8-r.eml": (m) => {
    expect(m.subject).toBe("Вопрос по заказу");
    expect(m.from.name).toBe("Иван");
    expect(m.text).toContain("Здравствуйте!");
  },
  "charset-utf-7.eml": (m) => {
    unwrapped(m);
    expect(m.text).toContain("Hi Mom");
  },
  "charset-unknown.eml": (m) => {
    unwrapped(m);
    expect(m.subject).toContain("and more");
    expect(m.text).toContain("plain words in an unknown charset");
  },
  "encoded-words-mixed.eml": (m) => {
    expect(m.subject).toMatch(/^Grüße ?aus Köln Ärger .*€$/);
    expect(m.from).toEqual({ address: "åsa@exämple.se", name: "Åsa Öberg" });
  },
  "headers-8bit-latin1.eml": (m) => {
    expect(m.subject).toBe("Grüße € Rechnung");
    expect(m.from).toEqual({ address: "jm@example.de", name: "Jürgen Müller" });
  },
  "header-injection-subject.eml": (m) => {
    expect(m.subject).toBe("Order 5 Bcc: victim@x.example Injected body X-Evil: 1");
    expect(m.text.trim()).toBe("Real body.");
  },
  "header-injection-from.eml": (m) => {
    expect(m.from).toEqual({ address: "help@shop.example", name: "Support Reply-To: evil@attacker.example" });
    expect(m.to).toEqual([{ address: "support@company.example", name: "Team Bcc: all@company.example" }]);
    expect(m.replyTo).toEqual([]);
    expect(m.cc).toEqual([]);
  },
  "mime-missing-boundary.eml": (m) => expect(m.text).toContain("hello from a part"),
  "mime-unterminated.eml": (m) => {
    expect(m.text).toContain("unterminated text");
    expect(m.html).toContain("<b>html</b>");
  },
  "mime-wrong-cte.eml": (m) => {
    expect(m.text).toContain("kept as written");
    expect(names(m)).toEqual(["claim.pdf"]);
  },
  "mime-bad-base64.eml": (m) => {
    unwrapped(m);
    expect(m.text).toContain("Hello");
    expect(names(m)).toEqual(["report.pdf"]);
  },
  "xss-scripts-and-structure.eml": (m) => {
    expect(m.html).toContain("<p>Visible text</p>");
    expect(m.html).toContain("<div>hover</div>");
    expect(m.html).not.toMatch(/alert|evil|password/);
    expect(m.text).not.toMatch(/alert|Ignored/);
  },
  "xss-urls.eml": (m) => {
    expect(m.html).not.toMatch(/alert|msgbox|evil\.example|data:|srcset/i);
    expect(m.html).toContain('href="https://shop.example/order/1"');
    expect(m.html).toContain('href="mailto:help@shop.example"');
    expect(m.html).toContain('data-remote-src="https://tracker.example/open.gif?id=1"');
    expect(m.html).toContain('src="cid:logo@shop.example"');
    expect(m.html!.match(/rel="noopener noreferrer"/g)).toHaveLength(9);
  },
  "xss-css.eml": (m) => {
    const styles = [...m.html!.matchAll(/style="([^"]*)"/g)].map((match) => match[1]).join(";");
    expect(styles).not.toMatch(/expression|pression|binding|behavior|url\(|\\/i);
    expect(m.html).not.toMatch(/alert|evil/);
    expect(m.html).toContain("color:#c00");
    expect(m.html).toContain("font-family:'Segoe UI', Arial;font-size:14px;margin:0 0 1em;border:1px solid #ccc;text-align:center");
    expect(m.html).toContain("color:rgb(10, 20, 30)");
  },
  "filenames-hostile.eml": (m) => {
    const long = names(m)[9]!;
    expect([...long]).toHaveLength(200);
    expect(long.endsWith(".pdf")).toBe(true);
    expect(names(m)).toEqual([
      "passwd",
      "boot.ini",
      "shadow",
      "report.pdf.exe",
      "invoicefdp.exe",
      "_CON.txt",
      "htaccess",
      "Résumé final.pdf",
      "attachment-9.pdf",
      long,
      "請求書.pdf",
    ]);
  },
  "zero-byte.eml": (m) => {
    expect(m.flags.wrapped).toBe("empty");
    expect(m.attachments).toEqual([]);
  },
  "whitespace-only.eml": (m, raw) => {
    expect(m.flags.wrapped).toBe("empty");
    expect(names(m)).toEqual(["original.eml"]);
    expect(m.attachments[0]!.content.equals(raw)).toBe(true);
  },
  "binary-garbage.eml": (m, raw) => {
    expect(m.flags.wrapped).toBe("unparsable");
    expect(m.text).toMatch(/could not be read as an email/);
    expect(m.attachments[0]!.content.equals(raw)).toBe(true);
  },
  "headers-only.eml": (m) => {
    unwrapped(m);
    expect(m.subject).toBe("see subject, nothing else");
    expect(m.from).toEqual({ address: "ann@example.com", name: "Ann" });
    expect(m.text).toBe("");
    expect(m.html).toBeNull();
  },
  "headers-without-addressing.eml": (m) => {
    expect(m.flags.wrapped).toBe("empty");
    expect(names(m)).toEqual(["original.eml"]);
  },
  "rfc822-attached.eml": (m) => {
    expect(m.text).toContain("See the forwarded complaint.");
    expect(m.text).not.toContain("I am not happy.");
    expect(m.attachments.map((a) => [a.filename, a.contentType])).toEqual([["attachment-1.eml", "message/rfc822"]]);
    expect(m.attachments[0]!.content.toString()).toContain("I am not happy.");
  },
  "inline-cid-image.eml": (m) => {
    expect(m.attachments.map((a) => [a.filename, a.inline, a.contentId])).toEqual([
      ["logo.png", true, "logo.png@01DC0000"],
      ["attachment-2.png", false, "unused@01DC0000"],
    ]);
    expect(m.html).toContain('src="cid:logo.png@01DC0000"');
  },
  "address-groups.eml": (m) => {
    expect(m.from).toEqual({ address: "Jane.Doe@example.com", name: "Doe, Jane" });
    expect(m.to).toEqual([
      { address: "s1@company.example", name: "" },
      { address: "s2@company.example", name: "S 2" },
    ]);
    expect(m.cc).toEqual([
      { address: "boss@example.com", name: "" },
      { address: "bob@example.com", name: "Böb" },
    ]);
    expect(m.replyTo).toEqual([{ address: "replies@example.com", name: "" }]);
  },
  "threading-garbled.eml": (m) => {
    expect(m.messageId).toBe("reply-2.abc@mail.example.com");
    expect(m.inReplyTo).toEqual(["reply-1@company.example"]);
    expect(m.references).toEqual(["root@company.example", "reply-1@company.example", "unterminated@x.example"]);
  },
  "bounce-dsn.eml": (m) => {
    expect(m.flags.bounce).toBe(true);
    expect(m.flags.autoReply).toBe(true);
    expect(m.text).toContain("Final-Recipient: rfc822; gone@example.net");
  },
  "bounce-exchange-ndr.eml": (m) => expect(m.flags.bounce).toBe(true),
  "auto-reply-outlook.eml": (m) => {
    expect(m.flags.autoReply).toBe(true);
    expect(m.flags.bounce).toBe(false);
  },
  "auto-reply-rfc3834.eml": (m) => expect(m.flags).toEqual({ autoReply: true, bounce: false, loop: false, wrapped: null }),
  "mailing-list.eml": (m) => {
    expect(m.flags).toEqual({ autoReply: true, bounce: false, loop: false, wrapped: null });
    expect(m.from).toEqual({ address: "priya@example.net", name: "Priya Raman" });
    expect(m.subject).toBe("[users] Export to CSV drops the last column");
    expect(m.text).toContain("leaves out the last column");
  },
  "html-only.eml": (m) => {
    expect(m.text).toBe("Order #42\n\nFish & chips\n\nTotal 9.90 €");
    expect(m.html).toContain("<h1>Order");
  },
  "no-from.eml": (m) => {
    unwrapped(m);
    expect(m.from).toEqual({ address: "", name: "" });
  },
  "mbox-from-line.eml": (m) => {
    expect(m.from.address).toBe("someone@example.com");
    expect(m.subject).toBe("mbox");
    expect(m.text).toContain("Body after an mbox line.");
  },
  "no-blank-line.eml": (m) => {
    expect(m.subject).toBe("squashed");
    expect(m.text).toContain("This line is the body.");
  },
};

const files = fs.readdirSync(corpus).filter((name) => name.endsWith(".eml")).sort();

describe("hostile corpus", () => {
  it("has an expectation and a README line for every message", () => {
    const readme = fs.readFileSync(new URL("README.md", corpus), "utf8");
    expect(files.filter((name) => !expectations[name])).toEqual([]);
    expect(Object.keys(expectations).filter((name) => !files.includes(name))).toEqual([]);
    expect(files.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it.each(files)("%s", async (name) => {
    const raw = fs.readFileSync(new URL(name, corpus));
    const mail = await parse(raw);
    expectSafe(mail);
    expectations[name]!(mail, raw);
  });
});

describe("hostile structure, generated", () => {
  const nested = (depth: number) => {
    const lines = ["From: a@example.com", "To: support@company.example", "Subject: deep", "MIME-Version: 1.0"];
    for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="b${i}"`, "", `--b${i}`);
    lines.push("Content-Type: text/plain", "", "the deepest part");
    for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
    return Buffer.from(lines.join("\r\n"), "utf8");
  };

  it("parses 200 nested multiparts without blowing the stack", async () => {
    const mail = await parse(nested(200));
    expectSafe(mail);
    expect(mail.text).toContain("the deepest part");
  });

  it("wraps 5,000 nested multiparts as unparsable instead of hanging", async () => {
    const raw = nested(5000);
    const mail = await parse(raw);
    expectSafe(mail);
    expect(mail.flags.wrapped).toBe("unparsable");
    expect(mail.subject).toBe("deep");
    expect(mail.attachments[0]!.content.equals(raw)).toBe(true);
  });

  it("bounds a huge single header line", async () => {
    const raw = Buffer.from(`From: a@example.com\r\nSubject: ${"Long subject ".repeat(40_000)}\r\nX-Padding: ${"x".repeat(400_000)}\r\n\r\nbody\r\n`, "utf8");
    const mail = await parse(raw);
    expectSafe(mail);
    unwrapped(mail);
    expect(mail.subject.startsWith("Long subject Long subject")).toBe(true);
    expect(mail.subject.length).toBeLessThanOrEqual(998);
    expect(mail.text).toContain("body");
  });

  it("parses deeply nested HTML without blowing the stack", async () => {
    const html = `${"<div>".repeat(20_000)}deep${"</div>".repeat(20_000)}${"<b>".repeat(20_000)}unclosed`;
    const raw = Buffer.from(`From: a@example.com\r\nContent-Type: text/html\r\n\r\n${html}`, "utf8");
    const mail = await parse(raw);
    expectSafe(mail);
    expect(mail.text).toContain("deep");
    expect(mail.text).toContain("unclosed");
  });
});
