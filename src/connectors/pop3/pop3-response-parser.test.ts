import { describe, expect, it } from "vitest";
import { Pop3ProtocolError, Pop3ResponseParser, type Pop3Response, type Pop3ResponseKind } from "./pop3-response-parser.js";

type Limits = ConstructorParameters<typeof Pop3ResponseParser>[1];
type Expected = Pop3ResponseKind | { kind: Pop3ResponseKind; headOnly: boolean };

/** Feeds the stream in the given chunk sizes and returns the responses, in order. */
function parse(stream: Buffer, kinds: Expected[], chunkSizes: number[] = [stream.length], limits?: Limits): Pop3Response[] {
  const out: Pop3Response[] = [];
  const parser = new Pop3ResponseParser((r) => out.push(r), limits);
  for (const k of kinds) {
    if (typeof k === "string") parser.expect(k);
    else parser.expect(k.kind, { headOnly: k.headOnly });
  }
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
    const parser = new Pop3ResponseParser(() => {}, { maxLineBytes: 100, maxBodyBytes: 1000, maxHeadBytes: 500 });
    parser.expect("single");
    expect(() => parser.push(Buffer.alloc(200, 0x41))).toThrow(/more than 100 bytes/);
  });

  describe("head only (RETR of a message over Max size on a server without TOP)", () => {
    const headOnly = { kind: "multi", headOnly: true } as const;
    const limits = { maxLineBytes: 1000, maxBodyBytes: 1_000_000, maxHeadBytes: 200 };

    it("keeps the header block through its blank line, drops the body, unstuffs dots and ends at the terminator, whatever the chunking", () => {
      const header = bytes("Subject: caf", [0xe9], "\r\n", ".X-Dotted: yes\r\n", "\r\n");
      const stuffedHeader = bytes("Subject: caf", [0xe9], "\r\n", "..X-Dotted: yes\r\n", "\r\n");
      // a lone stuffed dot and more blank lines in the body: none of them ends the response or the head
      const stuffedBody = bytes("body line\r\n", "..\r\n", "\r\n", "...\r\n", "tail ", [0xff], "\r\n");
      const stream = Buffer.concat([bytes("+OK 99 octets\r\n"), stuffedHeader, stuffedBody, bytes(".\r\n", "+OK next\r\n")]);
      for (let size = 1; size <= stream.length; size++) {
        const [retr, next] = parse(stream, [headOnly, "single"], [size], limits);
        expect(retr?.status, `chunk size ${size}`).toBe("ok");
        expect(retr?.text).toBe("99 octets");
        expect(retr?.body?.equals(header), `chunk size ${size}: ${JSON.stringify(retr?.body?.toString("latin1"))}`).toBe(true);
        expect(next?.text, `chunk size ${size}`).toBe("next");
      }
    });

    it("keeps a message without body whole, and reads the next response after it", () => {
      const [retr, next] = parse(bytes("+OK\r\n", "Subject: only a header\r\n", ".\r\n", "+OK\r\n"), [headOnly, "single"], [5], limits);
      expect(retr?.body?.toString()).toBe("Subject: only a header\r\n");
      expect(next?.status).toBe("ok");
    });

    it("stops keeping at maxHeadBytes, on a line boundary, and still reads to the terminator", () => {
      const lines = Array.from({ length: 20 }, (_, i) => `X-Header-${String(i).padStart(2, "0")}: ${"h".repeat(20)}\r\n`);
      const stream = bytes("+OK\r\n", ...lines, "\r\n", "body\r\n", ".\r\n", "+OK after\r\n");
      const [retr, next] = parse(stream, [headOnly, "single"], [7], limits);
      const kept = retr!.body!.toString();
      expect(retr!.body!.length).toBeLessThanOrEqual(limits.maxHeadBytes);
      // whole lines only: as many as fit
      expect(kept).toBe(lines.slice(0, Math.floor(limits.maxHeadBytes / lines[0]!.length)).join(""));
      expect(next?.text).toBe("after");
    });

    it("drops a body line longer than maxHeadBytes instead of failing, whatever the chunking", () => {
      const header = "Subject: one long line\r\n\r\n";
      const stream = bytes("+OK\r\n", header, "b".repeat(5_000), "\r\n", "..\r\n", ".\r\n", "+OK after\r\n");
      for (const size of [1, 7, 64, 199, 201, 4_096]) {
        const [retr, next] = parse(stream, [headOnly, "single"], [size], limits);
        expect(retr?.body?.toString(), `chunk size ${size}`).toBe(header);
        expect(next?.text, `chunk size ${size}`).toBe("after");
      }
    });

    it("answers an -ERR without a body and reads on", () => {
      const [retr, next] = parse(bytes("-ERR Message 2 expunged.\r\n", "+OK\r\n"), [headOnly, "single"], [3], limits);
      expect(retr).toMatchObject({ status: "err", text: "Message 2 expunged.", body: undefined });
      expect(next?.status).toBe("ok");
    });

    it("keeps the whole body of the next multi-line response", () => {
      const stream = bytes("+OK\r\n", "Subject: a\r\n\r\nbody a\r\n", ".\r\n", "+OK\r\n", "Subject: b\r\n\r\nbody b\r\n", ".\r\n");
      const [head, whole] = parse(stream, [headOnly, "multi"], [4], limits);
      expect(head?.body?.toString()).toBe("Subject: a\r\n\r\n");
      expect(whole?.body?.toString()).toBe("Subject: b\r\n\r\nbody b\r\n");
    });
  });
});
