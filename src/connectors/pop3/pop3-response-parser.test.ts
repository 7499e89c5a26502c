import { describe, expect, it } from "vitest";
import { Pop3ProtocolError, Pop3ResponseParser, type Pop3Response, type Pop3ResponseKind } from "./pop3-response-parser.js";

/** Feeds the stream in the given chunk sizes and returns the responses, in order. */
function parse(stream: Buffer, kinds: Pop3ResponseKind[], chunkSizes: number[] = [stream.length]): Pop3Response[] {
  const out: Pop3Response[] = [];
  const parser = new Pop3ResponseParser((r) => out.push(r));
  for (const k of kinds) parser.expect(k);
  let offset = 0;
  let i = 0;
  while (offset < stream.length) {
    const size = Math.max(1, chunkSizes[i++ % chunkSizes.length]!);
    parser.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

describe("POP3 response parser", () => {
  it("reads status lines with their text and response code", () => {
    const stream = bytes("+OK Dovecot ready.\r\n", "-ERR [AUTH] Authentication failed.\r\n", "-ERR [IN-USE] Mailbox locked\r\n", "-ERR no such message\r\n");
    const [ok, auth, inUse, plain] = parse(stream, ["single", "single", "single", "single"]);
    expect(ok).toEqual({ status: "ok", text: "Dovecot ready.", code: undefined, body: undefined });
    expect(auth).toMatchObject({ status: "err", text: "[AUTH] Authentication failed.", code: "AUTH" });
    expect(inUse).toMatchObject({ status: "err", code: "IN-USE" });
    expect(plain).toMatchObject({ status: "err", text: "no such message", code: undefined });
  });

  it("reads a SASL continuation", () => {
    const [r] = parse(bytes("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"), ["single"]);
    expect(r).toMatchObject({ status: "continue", text: "eyJzdGF0dXMiOiI0MDEifQ==" });
  });

  it("removes dot-stuffing, keeps CRLF and 8-bit bytes exactly, whatever the chunking", () => {
    const message = bytes("Subject: caf", [0xe9], "\r\n\r\n", ".hidden line\r\n", "..\r\n", "end ", [0x00, 0xff, 0x80], "\r\n");
    const stuffed = bytes("Subject: caf", [0xe9], "\r\n\r\n", "..hidden line\r\n", "...\r\n", "end ", [0x00, 0xff, 0x80], "\r\n");
    const stream = Buffer.concat([bytes("+OK 52 octets\r\n"), stuffed, bytes(".\r\n", "+OK next\r\n")]);
    for (let size = 1; size <= stream.length; size++) {
      const [retr, next] = parse(stream, ["multi", "single"], [size]);
      expect(retr?.body?.equals(message), `chunk size ${size}`).toBe(true);
      expect(retr?.text).toBe("52 octets");
      expect(next?.text).toBe("next");
    }
  });

  it("handles chunks of varying sizes, the terminator split across them", () => {
    const stream = bytes("+OK\r\n", "line one\r\n", "line two\r\n", ".\r\n");
    const [r] = parse(stream, ["multi"], [3, 7, 1, 13, 2]);
    expect(r?.body?.toString()).toBe("line one\r\nline two\r\n");
  });

  it("gives an -ERR to a multi-line command without a body", () => {
    const [r, next] = parse(bytes("-ERR There's no message 9.\r\n+OK\r\n"), ["multi", "single"]);
    expect(r).toMatchObject({ status: "err", body: undefined });
    expect(next?.status).toBe("ok");
  });

  it("reads an empty multi-line body", () => {
    const [r] = parse(bytes("+OK 0 messages:\r\n.\r\n"), ["multi"]);
    expect(r?.body?.length).toBe(0);
  });

  it("refuses data nobody asked for and lines that are not POP3", () => {
    expect(() => parse(bytes("+OK\r\n"), [])).toThrow(Pop3ProtocolError);
    expect(() => parse(bytes("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"), ["single"])).toThrow(/not a POP3 status line/);
  });

  it("refuses a status line without end", () => {
    const parser = new Pop3ResponseParser(() => {}, { maxLineBytes: 100, maxBodyBytes: 1000 });
    parser.expect("single");
    expect(() => parser.push(Buffer.alloc(200, 0x41))).toThrow(/more than 100 bytes/);
  });
});
