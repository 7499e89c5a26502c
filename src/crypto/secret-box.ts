import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../logger.js";

const VERSION = "v2";
/** sealed before secrets were bound to their use; opened only to re-seal them as v2 */
const LEGACY_VERSION = "v1";
const IV_BYTES = 12;
// the full GCM tag: Node would otherwise accept a truncated one, which is easier to forge
const TAG_BYTES = 16;

/**
 * AES-256-GCM sealing of secrets at rest: `v2:<iv>:<tag>:<ciphertext>`, all base64url. The
 * `context` (say `mailbox:<id>:password`) is authenticated as associated data: a sealed secret
 * copied to another row or column does not open there.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("The secret key must be 32 bytes (AES-256).");
    this.#key = key;
  }

  seal(plain: string, context: string): string {
    const aad = contextBytes(context);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString("base64url"), tag.toString("base64url"), ct.toString("base64url")].join(":");
  }

  /** Opens a secret sealed by `seal` for the same context; anything else throws. */
  open(sealed: string, context: string): string {
    const aad = contextBytes(context);
    const parts = splitSealed(sealed);
    if (parts.version === LEGACY_VERSION) {
      throw new Error("This secret was sealed before secrets were bound to their use (v1); it opens only to be re-sealed.");
    }
    if (parts.version !== VERSION) throw new Error("Not a sealed secret.");
    return this.#decrypt(parts, aad);
  }

  /** Opens a v1 secret (no context), for re-sealing it with `seal`; v2 and anything else throw. */
  openLegacy(sealed: string): string {
    const parts = splitSealed(sealed);
    if (parts.version !== LEGACY_VERSION) throw new Error("Not a v1 sealed secret.");
    return this.#decrypt(parts, null);
  }

  static isLegacy(sealed: string): boolean {
    return sealed.startsWith(`${LEGACY_VERSION}:`);
  }

  #decrypt(parts: SealedParts, aad: Buffer | null): string {
    const iv = Buffer.from(parts.iv, "base64url");
    const tag = Buffer.from(parts.tag, "base64url");
    if (iv.length !== IV_BYTES) throw new Error(`A sealed secret has a ${IV_BYTES}-byte IV; this one has ${iv.length}.`);
    if (tag.length !== TAG_BYTES) throw new Error(`A sealed secret has a ${TAG_BYTES}-byte tag; this one has ${tag.length}.`);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    if (aad) decipher.setAAD(aad);
    return Buffer.concat([decipher.update(Buffer.from(parts.ct, "base64url")), decipher.final()]).toString("utf8");
  }
}

interface SealedParts {
  version: string;
  iv: string;
  tag: string;
  ct: string;
}

function splitSealed(sealed: string): SealedParts {
  const [version, iv, tag, ct, ...rest] = sealed.split(":");
  if (!version || !iv || !tag || ct === undefined || rest.length > 0) throw new Error("Not a sealed secret.");
  return { version, iv, tag, ct };
}

function contextBytes(context: string): Buffer {
  // an empty context would bind the secret to nothing
  if (context === "") throw new Error("A secret is sealed for one use: name it in the context.");
  return Buffer.from(context, "utf8");
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
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  log.warn(
    { file },
    "Generated a new secret key for stored mailbox passwords. Back this file up: without it the stored passwords and client secrets cannot be read.",
  );
  return key;
}
