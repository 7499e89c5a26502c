import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { generateCorpus } from "../../bench/corpus.js";
import { readHeaderBlock } from "./header-block.js";
import { parseMime } from "./mime-parse.js";
import { alternativeMimeContent, plainMimeContent } from "./simple-mime.js";

/**
 * The fast paths must give what the MIME parser gives, field for field, wherever they answer at all:
 * every message here goes through both, and those taken are compared.
 */

const fast = (raw: Buffer) => plainMimeContent(raw, readHeaderBlock(raw));
const fastAlternative = (raw: Buffer) => alternativeMimeContent(raw, readHeaderBlock(raw));

/** Messages of the fast path's shape with the details where a hand-written reader goes wrong. */
const eligible: Record<string, string | Buffer> = {
  "folded subject with tabs and runs of spaces": "From: a@example.com\r\nSubject: one\r\n\ttwo\r\n     three\r\n\r\nbody\r\n",
  "encoded words, Q and B, adjacent ones joined": "From: =?utf-8?Q?J=C3=BCrgen?= <j@example.de>\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?= =?UTF-8?B?IGF1cw==?= and =?iso-8859-1?q?K=F6ln?=\r\n\r\nx\r\n",
  "an encoded word that does not decode": "Subject: =?x-unknown?Q?abc?= and =?utf-8?B?###?=\r\n\r\nx\r\n",
  "quoted names with commas, several recipients, a name alone": 'From: "Doe, Jane" <jane@example.com>\r\nTo: a@example.com, "B (bee)" <b@example.com>, C <c@EXAMPLE.com>, just-a-name\r\nCc: <cc@example.com>\r\nReply-To: reply@example.com\r\n\r\nbody\r\n',
  "groups, empty and not": "From: x@example.com\r\nTo: undisclosed-recipients:;\r\nCc: Team: a@example.com, =?utf-8?Q?B=C3=B6b?= <b@example.com>;\r\n\r\nbody\r\n",
  "comments and odd spacing in addresses": "From: a@example.com (Alice A.)\r\nTo:   <  b@example.com  >  ,\r\n\r\nbody\r\n",
  "an empty From and Subject": "From: \r\nSubject: \r\nTo: t@example.com\r\n\r\nbody\r\n",
  "an empty body": "From: a@example.com\r\nSubject: nothing\r\n\r\n",
  "a body of one line break": "From: a@example.com\r\n\r\n\r\n",
  "no line break at the end": "From: a@example.com\r\n\r\nlast line",
  "LF line endings": "From: a@example.com\nSubject: lf\n\nline one\nline two\n",
  "mixed and bare CR line endings in the body": "From: a@example.com\r\n\r\none\r\ntwo\nthree\rfour\r\n",
  "quoted-printable with soft breaks, bad escapes, a trailing =": "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=\r\n=C3=9Fe =ZZ 100=\r\n%=3d =\r\n=",
  "quoted-printable with lower-case hex and LF soft breaks": "From: a@example.com\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\nK=c3=b6ln=\nline\n",
  "UTF-8 body with an invalid sequence and a BOM": Buffer.concat([
    Buffer.from('From: a@example.com\r\nContent-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\uFEFFcaf\u00e9 '),
    Buffer.from([0xff, 0xfe, 0xc3]),
    Buffer.from(" end\r\n"),
  ]),
  "us-ascii declared, 8-bit sent": "From: a@example.com\r\nContent-Type: TEXT/PLAIN; charset=us-ascii;\r\n\r\ncaf\u00e9\r\n",
  "binary and 7bit encodings": "From: a@example.com\r\nContent-Transfer-Encoding: binary\r\n\r\nbytes\r\n",
  "a NUL and controls in the body": "From: a@example.com\r\nSubject: ctl\r\n\r\na\u0000b\u0007c\r\n",
  "an encoded word where the address should be: a name, not an address": "From: =?utf-8?Q?ceo=40bank.example?=\r\n\r\nx\r\n",
  "controls and a line break in an encoded subject": "From: a@example.com\r\nSubject: =?utf-8?Q?a=0D=0Ab=00c?=\r\n\r\nx\r\n",
};

/** Shapes it must leave to the MIME parser. */
const ineligible: Record<string, string> = {
  "format=flowed": "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nsoft \r\nbreak\r\n",
  base64: "From: a@example.com\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n",
  "another charset": "From: a@example.com\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\u00e9\r\n",
  "HTML": "From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n",
  "multipart": 'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n',
  "a Content-Disposition": "From: a@example.com\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nx\r\n",
  "two To headers": "From: a@example.com\r\nTo: b@example.com\r\nTo: c@example.com\r\n\r\nx\r\n",
  "two Subject headers": "Subject: one\r\nSubject: two\r\n\r\nx\r\n",
  "an 8-bit header": "From: J\u00fcrgen <j@example.de>\r\n\r\nx\r\n",
  "an internationalized domain": "From: a@xn--mller-kva.example\r\n\r\nx\r\n",
  "an encoded word inside the address": "From: Eve <=?utf-8?Q?ceo?=@example.com>\r\n\r\nx\r\n",
  "an mbox line": "From sender@example.com Mon Jan  1 00:00:00 2024\r\nFrom: a@example.com\r\n\r\nx\r\n",
  "no blank line after the headers": "From: a@example.com\r\nthis is body\r\n",
  "an unknown transfer encoding": "From: a@example.com\r\nContent-Transfer-Encoding: uuencode\r\n\r\nx\r\n",
  "an over-long header value": `From: a@example.com\r\nSubject: ${"w ".repeat(1_500)}\r\n\r\nx\r\n`,
};

const head = "From: =?utf-8?Q?J=C3=BCrgen?= <j@example.de>\r\nTo: support@example.com\r\nSubject: alt\r\nMIME-Version: 1.0\r\n";
const plainPart = (body = "Hello,\r\nplain text\r\n", extra = "") => `Content-Type: text/plain; charset=utf-8\r\n${extra}\r\n${body}`;
const htmlPart = (body = "<p>Hello,<br>html</p>\r\n", extra = "") => `Content-Type: text/html; charset="UTF-8"\r\n${extra}\r\n${body}`;
interface Layout {
  boundary?: string;
  type?: string;
  eol?: string;
  after?: string;
  before?: string;
}
const alternative = (parts: string[], { boundary = "b1", type, eol = "\r\n", after = "\r\n", before = "" }: Layout = {}) =>
  `${head}Content-Type: ${type ?? `multipart/alternative; boundary="${boundary}"`}\r\n\r\n${before}${parts.map((part) => `--${boundary}${eol}${part}${eol}`).join("")}--${boundary}--${after}`;

/** Multipart/alternative messages of the second fast path's shape, with the details of splitting. */
const eligibleAlternative: Record<string, string> = {
  "plain and HTML, 8bit": alternative([plainPart(), htmlPart()]),
  "quoted-printable parts with soft breaks": alternative([
    plainPart("Gr=C3=BC=\r\n=C3=9Fe\r\n", "Content-Transfer-Encoding: quoted-printable\r\n"),
    htmlPart("<p>K=C3=B6ln =3D=\r\n city</p>", "Content-Transfer-Encoding: Quoted-Printable\r\n"),
  ]),
  "a token boundary with punctuation": alternative([plainPart(), htmlPart()], { boundary: "=_Part_1.2(x)+y", type: "multipart/alternative; boundary==_Part_1.2(x)+y" }),
  "LF line endings throughout": alternative([plainPart("one\ntwo\n"), htmlPart("<b>x</b>\n")], { eol: "\n", after: "\n" }),
  "a part body ending without a line break before the delimiter": alternative([plainPart("no break"), htmlPart("<i>none</i>")]),
  "blank lines at the end of a part": alternative([plainPart("text\r\n\r\n\r\n"), htmlPart("<p>h</p>\r\n\r\n")]),
  "the delimiter inside a line of a part": alternative([plainPart("see --b1 here\r\n"), htmlPart("<p>x --b1</p>")]),
  "the closing delimiter without a line break": alternative([plainPart(), htmlPart()], { after: "" }),
  "blank lines after the closing delimiter": alternative([plainPart(), htmlPart()], { after: "\r\n\r\n \r\n" }),
  "other headers in a part": alternative([plainPart(undefined, "Content-Language: de\r\n"), htmlPart(undefined, "Content-ID: <h@x>\r\n")]),
  "7bit declared on the multipart": alternative([plainPart(), htmlPart()]).replace("MIME-Version: 1.0\r\n", "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 7bit\r\n"),
};

/** Shapes the second fast path must leave to the MIME parser. */
const ineligibleAlternative: Record<string, string> = {
  "HTML first": alternative([htmlPart(), plainPart()]),
  // mailsplit reads the blank line that ends the header of an empty part as its text
  "an empty plain part": alternative([plainPart(""), htmlPart()]),
  "an empty HTML part": alternative([plainPart(), htmlPart("")]),
  "a line that starts with the delimiter and goes on": alternative([plainPart("--b1x is not it\r\n"), htmlPart()]),
  "three parts": alternative([plainPart(), htmlPart(), htmlPart()]),
  "one part": alternative([plainPart()]),
  "a preamble": alternative([plainPart(), htmlPart()], { before: "This is a multi-part message.\r\n" }),
  "an epilogue": alternative([plainPart(), htmlPart()], { after: "\r\nepilogue text\r\n" }),
  "a delimiter line with trailing blanks": alternative([plainPart("a\r\n--b1  \r\nb"), htmlPart()]),
  "a delimiter after a bare CR": alternative([plainPart("a\r--b1\r\nb"), htmlPart()]),
  "a part without a Content-Type": alternative(["\r\nplain", htmlPart()]),
  "a base64 part": alternative([plainPart("aGk=\r\n", "Content-Transfer-Encoding: base64\r\n"), htmlPart()]),
  "a part in another charset": alternative([plainPart(), htmlPart().replace('"UTF-8"', "iso-8859-1")]),
  "a part with a Content-Disposition": alternative([plainPart(), htmlPart(undefined, "Content-Disposition: attachment\r\n")]),
  "format=flowed": alternative([plainPart().replace("charset=utf-8", "charset=utf-8; format=flowed"), htmlPart()]),
  "a parameter besides the boundary": alternative([plainPart(), htmlPart()], { type: 'multipart/alternative; boundary="b1"; charset=utf-8' }),
  "a boundary continued by RFC 2231": alternative([plainPart(), htmlPart()], { type: 'multipart/alternative; boundary*0="b"; boundary*1="1"' }),
  "a quoted boundary ending in a space": alternative([plainPart(), htmlPart()], { boundary: "b1 ", type: 'multipart/alternative; boundary="b1 "' }),
  "base64 declared on the multipart": alternative([plainPart(), htmlPart()]).replace("MIME-Version: 1.0\r\n", "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"),
  "multipart/mixed": alternative([plainPart(), htmlPart()], { type: 'multipart/mixed; boundary="b1"' }),
  "a part header not ended by a blank line": alternative(["Content-Type: text/plain", htmlPart()]),
};

async function expectSameAsParser(raw: Buffer, label: string, read = fast): Promise<boolean> {
  const mine = read(raw);
  if (mine === null) return false;
  expect(mine, label).toEqual(await parseMime(raw));
  return true;
}

describe("the plain-text fast path", () => {
  it.each(Object.entries(eligible))("takes and reads as the MIME parser does: %s", async (label, text) => {
    expect(await expectSameAsParser(typeof text === "string" ? Buffer.from(text, "utf8") : text, label)).toBe(true);
  });

  it.each(Object.entries(ineligible))("leaves to the MIME parser: %s", (_label, text) => {
    expect(fast(Buffer.from(text, "utf8"))).toBeNull();
  });

  it("reads every plain message of both benchmark corpora as the MIME parser does, and takes most of the small-text one", async () => {
    for (const [name, count] of [["small-text", 600], ["mixed", 300]] as const) {
      let taken = 0;
      let index = 0;
      for (const message of generateCorpus({ count, seed: 7, name })) {
        if (await expectSameAsParser(message.raw, `${name} #${index++}`)) taken++;
      }
      // the small-text corpus is ~70% single-part plain text: the fast path must be where that mail goes
      if (name === "small-text") expect(taken).toBeGreaterThan(count * 0.6);
      else expect(taken).toBeGreaterThan(0);
    }
  });

  it("reads whatever it takes of the hostile corpus as the MIME parser does", async () => {
    const dir = new URL("../../test/corpus/", import.meta.url);
    let taken = 0;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".eml"))) {
      if (await expectSameAsParser(fs.readFileSync(new URL(file, dir)), file)) taken++;
    }
    expect(taken).toBeGreaterThan(0);
  });
});

describe("the plain-and-HTML fast path", () => {
  it.each(Object.entries(eligibleAlternative))("takes and reads as the MIME parser does: %s", async (label, text) => {
    expect(await expectSameAsParser(Buffer.from(text, "utf8"), label, fastAlternative)).toBe(true);
  });

  it.each(Object.entries(ineligibleAlternative))("leaves to the MIME parser: %s", (_label, text) => {
    expect(fastAlternative(Buffer.from(text, "utf8"))).toBeNull();
  });

  it("never takes a single-part message, and the plain path never takes a multipart one", () => {
    expect(fastAlternative(Buffer.from(eligible["folded subject with tabs and runs of spaces"] as string))).toBeNull();
    expect(fast(Buffer.from(eligibleAlternative["plain and HTML, 8bit"]!))).toBeNull();
  });

  it("reads every plain-and-HTML message of both benchmark corpora as the MIME parser does, and takes those of the small-text one", async () => {
    for (const [name, count] of [["small-text", 600], ["mixed", 300]] as const) {
      let taken = 0;
      let index = 0;
      for (const message of generateCorpus({ count, seed: 7, name })) {
        if (await expectSameAsParser(message.raw, `${name} #${index++}`, fastAlternative)) taken++;
      }
      // ~25% of the small-text corpus is multipart/alternative with no attachment
      if (name === "small-text") expect(taken).toBeGreaterThan(count * 0.2);
      else expect(taken).toBeGreaterThan(0);
    }
  });

  it("reads whatever it takes of the hostile corpus as the MIME parser does", async () => {
    const dir = new URL("../../test/corpus/", import.meta.url);
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".eml"))) {
      await expectSameAsParser(fs.readFileSync(new URL(file, dir)), file, fastAlternative);
    }
  });
});
