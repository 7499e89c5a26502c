import { describe, expect, it } from "vitest";
import { headerValue, headerValues, readHeaderBlock } from "./header-block.js";

const bytes = (text: string) => Buffer.from(text, "latin1");

describe("readHeaderBlock", () => {
  it("unfolds fields, lower-cases names and finds the body after the blank line", () => {
    const raw = bytes("Subject: one\r\n two\r\nX-Thing : v\r\nReceived: a\r\nReceived: b\r\n\r\nbody\r\n");
    const block = readHeaderBlock(raw);
    expect(headerValue(block, "subject")).toBe("one two");
    expect(headerValue(block, "x-thing")).toBe("v");
    expect(headerValues(block, "received")).toEqual(["a", "b"]);
    expect(raw.subarray(block.bodyStart).toString()).toBe("body\r\n");
    expect(block.transcoded).toBe(false);
  });

  it("accepts bare LF line endings", () => {
    const raw = bytes("From: a@b.example\nSubject: s\n\nhello\n");
    const block = readHeaderBlock(raw);
    expect(headerValue(block, "from")).toBe("a@b.example");
    expect(raw.subarray(block.bodyStart).toString()).toBe("hello\n");
  });

  it("starts the body at the first line that is not a header when the blank line is missing", () => {
    const raw = bytes("From: a@b.example\r\nSubject: s\r\nHello there, no blank line\r\n");
    const block = readHeaderBlock(raw);
    expect(block.fields.map((f) => f.name)).toEqual(["from", "subject"]);
    expect(block.end).toBe(block.bodyStart);
    expect(raw.subarray(block.bodyStart).toString()).toBe("Hello there, no blank line\r\n");
  });

  it("finds no header block in binary garbage or in text", () => {
    expect(readHeaderBlock(Buffer.from([0, 1, 2, 0xff, 0x0a, 0x41, 0x3a])).fields).toEqual([]);
    expect(readHeaderBlock(bytes("Just some text: with a colon later\n")).fields).toEqual([]);
    expect(readHeaderBlock(bytes(" leading continuation: x\n")).fields).toEqual([]);
    expect(readHeaderBlock(Buffer.alloc(0)).bodyStart).toBe(0);
  });

  it("skips a leading mbox separator line", () => {
    const raw = bytes("From sender@example.com Mon Jan  5 08:00:00 2026\nFrom: a@b.example\n\nx\n");
    const block = readHeaderBlock(raw);
    expect(block.start).toBeGreaterThan(0);
    expect(headerValue(block, "from")).toBe("a@b.example");
  });

  it("reads raw UTF-8 (RFC 6532) as UTF-8 and a Latin-1 line as Windows-1252, line by line", () => {
    const raw = Buffer.concat([
      Buffer.from("From: Jürgen <j@bücher.example>\r\nSubject: Gr", "utf8"),
      Buffer.from([0xfc, 0xdf, 0x65, 0x20, 0x80]),
      Buffer.from("\r\n\r\nbody", "utf8"),
    ]);
    const block = readHeaderBlock(raw);
    expect(headerValue(block, "from")).toBe("Jürgen <j@bücher.example>");
    expect(headerValue(block, "subject")).toBe("Grüße €");
    expect(block.transcoded).toBe(true);
    expect(block.text).toBe("From: Jürgen <j@bücher.example>\r\nSubject: Grüße €\r\n");
  });

  it("reads a header block without a body to the end", () => {
    const raw = bytes("Subject: only headers\r\n");
    const block = readHeaderBlock(raw);
    expect(headerValue(block, "subject")).toBe("only headers");
    expect(block.bodyStart).toBe(raw.length);
  });
});
