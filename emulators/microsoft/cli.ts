import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { defaultSeed, type Seed, type SeedClient, type SeedTenant, type SeedUser } from "./seed.js";
import { startEmulator, type StartedEmulator } from "./server.js";

/**
 * `npm run emulator -- --port P [--seed file.json] [--strict] [--cert-dir DIR]`
 *
 * Starts the Entra ID + Graph + EWS emulator and prints exactly one JSON line (url, ewsUrl, caFile, tenants with
 * their clients and users), so a script can read where it is and what it knows; then runs until
 * SIGINT or SIGTERM. A bad flag or seed file: one line on stderr and exit code 2.
 */

class UsageError extends Error {}

export interface CliOptions {
  port: number;
  seed: Seed;
  strict: boolean;
  /** null: a fresh temp dir, removed on exit */
  certDir: string | null;
}

export function parseCliArgs(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        seed: { type: "string" },
        strict: { type: "boolean", default: false },
        "cert-dir": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const portText = values.port ?? "0";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port must be a TCP port number (0 for any free port), not "${portText}"`);
  return {
    port,
    seed: values.seed === undefined ? defaultSeed : readSeed(values.seed),
    strict: values.strict ?? false,
    certDir: values["cert-dir"] ?? null,
  };
}

/** Reads and checks a seed file; each problem names the file and the place in it. */
export function readSeed(file: string): Seed {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the seed file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the seed file ${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return checkSeed(raw);
  } catch (err) {
    throw new UsageError(`the seed file ${file} is not a seed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function str(o: Record<string, unknown>, key: string, at: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v === "") throw new Error(`${at}.${key} must be a non-empty string`);
  return v;
}

function strList(o: Record<string, unknown>, key: string, at: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new Error(`${at}.${key} must be an array of strings`);
  return v;
}

function list(o: Record<string, unknown>, key: string, at: string): unknown[] {
  const v = o[key] ?? [];
  if (!Array.isArray(v)) throw new Error(`${at}.${key} must be an array`);
  return v;
}

/** The seed's shape (seed.ts); a file without `tenants` keeps the default ones. */
function checkSeed(raw: unknown): Seed {
  if (!isObject(raw)) throw new Error("the top level must be an object with a tenants array");
  if (raw.tenants === undefined) return defaultSeed;
  const tenants = list(raw, "tenants", "seed").map((t, i): SeedTenant => {
    const at = `tenants[${i}]`;
    if (!isObject(t)) throw new Error(`${at} must be an object`);
    const clients = list(t, "clients", at).map((c, j): SeedClient => {
      const cat = `${at}.clients[${j}]`;
      if (!isObject(c)) throw new Error(`${cat} must be an object`);
      const expires = c.secretExpiresAt;
      if (expires !== undefined && expires !== null && (typeof expires !== "string" || Number.isNaN(Date.parse(expires)))) {
        throw new Error(`${cat}.secretExpiresAt must be an ISO date-time or null`);
      }
      if (c.consented !== undefined && typeof c.consented !== "boolean") throw new Error(`${cat}.consented must be true or false`);
      const roles = strList(c, "roles", cat);
      const scopes = strList(c, "scopes", cat);
      return {
        clientId: str(c, "clientId", cat, true) as string,
        clientSecret: str(c, "clientSecret", cat, true) as string,
        ...(expires === undefined ? {} : { secretExpiresAt: expires }),
        ...(roles ? { roles } : {}),
        ...(scopes ? { scopes } : {}),
        ...(typeof c.consented === "boolean" ? { consented: c.consented } : {}),
      };
    });
    const users = list(t, "users", at).map((u, j): SeedUser => {
      const uat = `${at}.users[${j}]`;
      if (!isObject(u)) throw new Error(`${uat} must be an object`);
      const mail = str(u, "mail", uat, true) as string;
      if (!/^[^@\s]+@[^@\s]+$/.test(mail)) throw new Error(`${uat}.mail must be an e-mail address`);
      const signIn = u.signIn;
      if (signIn !== undefined && signIn !== "ok" && signIn !== "mfa" && signIn !== "locked") throw new Error(`${uat}.signIn must be "ok", "mfa" or "locked"`);
      const id = str(u, "id", uat, false);
      const password = str(u, "password", uat, false);
      const displayName = str(u, "displayName", uat, false);
      return {
        mail,
        ...(id ? { id } : {}),
        ...(password ? { password } : {}),
        ...(displayName ? { displayName } : {}),
        ...(signIn === undefined ? {} : { signIn }),
      };
    });
    const domain = str(t, "domain", at, false);
    return { id: str(t, "id", at, true) as string, ...(domain ? { domain } : {}), clients, users };
  });
  if (tenants.length === 0) throw new Error("tenants must name at least one tenant");
  return { tenants };
}

export async function main(argv: string[]): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`emulator: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const certDir = options.certDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-emulator-"));
  const removeCertDir = () => {
    if (options.certDir === null) fs.rmSync(certDir, { recursive: true, force: true });
  };
  let emulator: StartedEmulator;
  try {
    emulator = await startEmulator({ port: options.port, seed: options.seed, strict: options.strict, certDir });
  } catch (err) {
    removeCertDir();
    process.stderr.write(`emulator: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = () => {
    // a second signal while closing changes nothing: the first one's close finishes
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => {
        removeCertDir();
        process.exit(0);
      },
      (err: unknown) => {
        removeCertDir();
        process.stderr.write(`emulator: close failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // printed after the handlers are in place: the reader of this line may signal at once
  process.stdout.write(`${JSON.stringify(emulator.describe())}\n`);
}

// run when started as a program (tsx emulators/microsoft/cli.ts), not when a test imports it
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main(process.argv.slice(2));
}
