import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../logger.js";

const VERSION = "v1";

/** AES-256-GCM sealing of secrets at rest: `v1:<iv>:<tag>:<ciphertext>`, all base64url. */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("The secret key must be 32 bytes (AES-256).");
    this.#key = key;
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString("base64url"), tag.toString("base64url"), ct.toString("base64url")].join(":");
  }

  open(sealed: string): string {
    const [version, iv, tag, ct] = sealed.split(":");
    if (version !== VERSION || !iv || !tag || ct === undefined) throw new Error("Not a sealed secret.");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  }
}

/** Accepts 64 hex characters or 32 bytes in base64 / base64url. */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32) {
    throw new Error("MAILROOM_SECRET_KEY must be 32 bytes: 64 hex characters or 44 base64 characters.");
  }
  return key;
}

/**
 * The key from config, else from `secret.key` in the data dir, created (mode 0600) on first start.
 * Losing that file makes every stored password unreadable, hence the loud log line.
 */
export function loadSecretKey(configured: string | undefined, dataDir: string, log: Logger): Buffer {
  if (configured) return parseSecretKey(configured);
  const file = path.join(dataDir, "secret.key");
  if (fs.existsSync(file)) return parseSecretKey(fs.readFileSync(file, "utf8"));
  fs.mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  log.warn(
    { file },
    "Generated a new secret key for stored mailbox passwords. Back this file up: without it the stored passwords and client secrets cannot be read.",
  );
  return key;
}
