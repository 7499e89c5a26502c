import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { SecretBox, loadSecretKey, parseSecretKey } from "./secret-box.js";

describe("secret box", () => {
  it("seals with AES-256-GCM: round-trips, differs each time, and detects tampering", () => {
    const box = new SecretBox(randomBytes(32));
    const a = box.seal("hunter2-password");
    const b = box.seal("hunter2-password");
    expect(a).not.toBe(b);
    expect(a).not.toContain("hunter2");
    expect(box.open(a)).toBe("hunter2-password");
    const [v, iv, tag, ct] = a.split(":");
    const flipped = Buffer.from(ct!, "base64url");
    flipped[0]! ^= 1;
    expect(() => box.open([v, iv, tag, flipped.toString("base64url")].join(":"))).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(a)).toThrow();
  });

  it("generates a key file with mode 0600 on first start and reuses it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-key-"));
    const lines: string[] = [];
    const log = createLogger("info", { write: (l: string) => lines.push(l) });
    const k1 = loadSecretKey(undefined, dir, log);
    expect(fs.statSync(path.join(dir, "secret.key")).mode & 0o777).toBe(0o600);
    expect(lines.join("")).toMatch(/Back this file up/);
    expect(loadSecretKey(undefined, dir, log).equals(k1)).toBe(true);
    fs.rmSync(dir, { recursive: true });
  });

  it("accepts a configured key as hex or base64 and rejects a wrong length", () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString("hex")).equals(key)).toBe(true);
    expect(parseSecretKey(key.toString("base64")).equals(key)).toBe(true);
    expect(() => parseSecretKey("abcd")).toThrow(/32 bytes/);
  });
});
