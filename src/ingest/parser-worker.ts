import { parseMail } from "./parse-mail.js";
import { serveParseRequests } from "./parser-protocol.js";

/** Entry point of a parse worker process (see parser-pool.ts). */

/**
 * A message of each kind parsed before the worker says it is ready, so that the first real message
 * does not pay for compiling the parser's code (a cold worker took ~3 ms a message for its first
 * hundred, against ~0.5 ms warm).
 */
const samples = [
  "From: Ann <ann@example.com>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <warm-1@example.com>\r\n\r\nHello.\r\n",
  [
    "From: ann@example.com",
    "Subject: warm",
    'Content-Type: multipart/mixed; boundary="b"',
    "",
    "--b",
    'Content-Type: multipart/alternative; boundary="a"',
    "",
    "--a",
    "Content-Type: text/plain; charset=iso-8859-1",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Gr=FC=DFe",
    "--a",
    "Content-Type: text/html",
    "",
    '<p style="color: red">Hello <img src="cid:logo"></p>',
    "--a--",
    "--b",
    "Content-Type: image/png; name=logo.png",
    "Content-ID: <logo>",
    "Content-Transfer-Encoding: base64",
    "",
    "iVBORw0KGgo=",
    "--b--",
    "",
  ].join("\r\n"),
];
const ctx = { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set<string>() };
for (let round = 0; round < 20; round++) {
  for (const text of samples) {
    const raw = Buffer.from(text);
    await parseMail({ raw, size: raw.length, truncated: false }, ctx);
  }
}
serveParseRequests(parseMail);
