import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sealV1 } from "../../test/support/legacy-secret.js";
import { createLogger } from "../logger.js";
import { SecretBox, loadSecretKey, parseSecretKey } from "./secret-box.js";

describe("secret box", () => {
  it("seals with AES-256-GCM: round-trips, differs each time, and detects tampering", () => {
    const box = new SecretBox(randomBytes(32));
    const a = box.seal("hunter2-password", "mailbox:1:password");
    const b = box.seal("hunter2-password", "mailbox:1:password");
    expect(a).not.toBe(b);
    expect(a).not.toContain("hunter2");
    expect(a).toMatch(/^v2:/);
    expect(box.open(a, "mailbox:1:password")).toBe("hunter2-password");
    const [v, iv, tag, ct] = a.split(":");
    const flipped = Buffer.from(ct!, "base64url");
    flipped[0]! ^= 1;
    expect(() => box.open([v, iv, tag, flipped.toString("base64url")].join(":"), "mailbox:1:password")).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(a, "mailbox:1:password")).toThrow();
  });

  it("binds a sealed secret to its context: it does not open for another mailbox or column", () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal("hunter2-password", "mailbox:1:password");
    expect(() => box.open(sealed, "mailbox:2:password")).toThrow();
    expect(() => box.open(sealed, "mailbox:1:client_secret")).toThrow();
    expect(() => box.seal("hunter2-password", "")).toThrow(/context/);
    expect(() => box.open(sealed, "")).toThrow(/context/);
  });

  it("refuses a tag that is not the full 16 bytes, though GCM would verify a truncated one", () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal("hunter2-password", "mailbox:1:password");
    const [v, iv, tag, ct] = sealed.split(":");
    const fullTag = Buffer.from(tag!, "base64url");
    expect(fullTag.length).toBe(16);
    for (const bytes of [15, 12, 8, 4]) {
      const truncated = [v, iv, fullTag.subarray(0, bytes).toString("base64url"), ct].join(":");
      expect(() => box.open(truncated, "mailbox:1:password"), `${bytes}-byte tag`).toThrow(/16-byte tag/);
    }
    const longer = [v, iv, Buffer.concat([fullTag, Buffer.from([0])]).toString("base64url"), ct].join(":");
    expect(() => box.open(longer, "mailbox:1:password")).toThrow(/16-byte tag/);
  });

  it("opens a v1 secret (bound to nothing) only to re-seal it", () => {
    const key = randomBytes(32);
    const box = new SecretBox(key);
    const legacy = sealV1(key, "hunter2-password");
    expect(SecretBox.isLegacy(legacy)).toBe(true);
    expect(() => box.open(legacy, "mailbox:1:password")).toThrow(/v1/);
    expect(box.openLegacy(legacy)).toBe("hunter2-password");
    const resealed = box.seal(box.openLegacy(legacy), "mailbox:1:password");
    expect(SecretBox.isLegacy(resealed)).toBe(false);
    expect(() => box.openLegacy(resealed)).toThrow(/v1/);
    expect(() => new SecretBox(randomBytes(32)).openLegacy(legacy)).toThrow();
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

  it("creates a missing data dir private (0700) for the key file", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-key-"));
    const dir = path.join(base, "data");
    const previous = process.umask(0o022);
    try {
      loadSecretKey(undefined, dir, createLogger("silent"));
    } finally {
      process.umask(previous);
    }
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    fs.rmSync(base, { recursive: true });
  });

  it("accepts a configured key as hex or base64 and rejects a wrong length", () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString("hex")).equals(key)).toBe(true);
    expect(parseSecretKey(key.toString("base64")).equals(key)).toBe(true);
    expect(() => parseSecretKey("abcd")).toThrow(/32 bytes/);
  });
});
