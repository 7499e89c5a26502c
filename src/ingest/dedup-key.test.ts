import { describe, expect, it } from "vitest";
import { dedupKey } from "./dedup-key.js";
import { readHeaderBlock } from "./header-block.js";
import { messageIdOf } from "./message-ids.js";

function key(text: string, truncatedSize: number | null = null): string {
  const raw = Buffer.from(text, "utf8");
  const header = readHeaderBlock(raw);
  const messageId = messageIdOf(header.fields.filter((f) => f.name === "message-id").map((f) => f.value));
  return dedupKey({ raw, header, messageId, truncatedSize });
}

const message = [
  "Message-ID: <m1@shop.example>",
  "From: Ann <ann@example.com>",
  "To: support@company.example",
  "Subject: Order 1",
  "Date: Mon, 5 Jan 2026 08:00:00 +0000",
  "",
  "Where is my order?",
  "",
].join("\r\n");

describe("dedupKey", () => {
  it("is a sha256 hex digest", () => {
    expect(key(message)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is the same for a redelivery with other trace headers, line endings and folding", () => {
    const redelivered = [
      "Received: from mx2.example by mail.company.example; Tue, 6 Jan 2026 09:00:00 +0000",
      "Return-Path: <bounce@shop.example>",
      "Delivered-To: other@company.example",
      "X-Spam-Score: 0.1",
      message.replace("Subject: Order 1", "Subject: Order\r\n 1"),
    ].join("\r\n");
    expect(key(redelivered)).toBe(key(message));
    expect(key(message.replace(/\r\n/g, "\n"))).toBe(key(message));
    expect(key(`${message}\r\n\r\n`)).toBe(key(message));
  });

  it("differs when a Message-ID is reused for other content", () => {
    expect(key(message.replace("Where is my order?", "Cancel my order"))).not.toBe(key(message));
    expect(key(message.replace("Subject: Order 1", "Subject: Order 2"))).not.toBe(key(message));
    expect(key(message.replace("To: support@", "To: sales@"))).not.toBe(key(message));
    expect(key(`${message.replace("\r\n\r\n", "\r\nCc: boss@example.com\r\n\r\n")}`)).not.toBe(key(message));
  });

  it("differs for the same content under another Message-ID", () => {
    expect(key(message.replace("<m1@", "<m2@"))).not.toBe(key(message));
  });

  it("stands the declared size in for the body of a truncated message", () => {
    const headers = message.slice(0, message.indexOf("\r\n\r\n") + 2);
    expect(key(headers, 30_000_000)).toBe(key(headers, 30_000_000));
    expect(key(headers, 30_000_000)).not.toBe(key(headers, 31_000_000));
  });
});
