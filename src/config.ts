import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const configSchema = z.object({
  MAILROOM_PORT: z.coerce.number().int().min(0).max(65535).default(8025),
  MAILROOM_HOST: z.string().min(1).default("0.0.0.0"),
  MAILROOM_DATA_DIR: z.string().min(1).default("./data"),
  MAILROOM_DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/|sqlite:)/, "must start with postgres:// or sqlite:")
    .optional(),
  MAILROOM_SECRET_KEY: z.string().optional(),
  MAILROOM_ADMIN_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
  MAILROOM_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  MAILROOM_SESSION_HOURS: z.coerce.number().positive().default(12),
  MAILROOM_LOGIN_RATE_LIMIT: z.coerce.number().int().positive().default(10),
  MAILROOM_COOKIE_SECURE: bool.default(false),
  MAILROOM_RUNNERS: bool.default(true),
  MAILROOM_NODE_NAME: z.string().max(200).optional(),
  MAILROOM_LEASE_SECONDS: z.coerce.number().int().min(2).max(300).default(6),
  MAILROOM_IMAP_RESYNC_SECONDS: z.coerce.number().positive().default(300),
  MAILROOM_POP3_POLL_SECONDS: z.coerce.number().positive().default(30),
  MAILROOM_NEW_USER_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
  // two where the machine has two cores: measured faster on large mail, the same on small (bench:ingest)
  MAILROOM_PARSE_WORKERS: z.coerce.number().int().min(0).max(16).default(Math.min(2, os.availableParallelism())),
  MAILROOM_PARSE_WORKER_MEMORY_MB: z.coerce.number().int().min(64).max(16_384).default(512),
  MAILROOM_OUTBOX_LEASE_SECONDS: z.coerce.number().positive().max(3600).default(120),
  MAILROOM_OUTBOX_RETRY_SECONDS: z.coerce.number().positive().max(3600).default(30),
  MAILROOM_OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  MAILROOM_TRUSTED_CA_FILE: z.string().optional(),
  MAILROOM_OAUTH_TIMEOUT_SECONDS: z.coerce.number().positive().max(300).default(15),
  MAILROOM_PUBLIC_URL: z
    .string()
    .refine((v) => /^https?:\/\/[^/]+/.test(v), "must be the URL Microsoft Graph reaches this Mailroom at, such as https://mailroom.example.com")
    .optional(),
  MAILROOM_GRAPH_CATCHUP_SECONDS: z.coerce.number().positive().default(300),
  MAILROOM_WEB_DIR: z.string().optional(),
  MAILROOM_METRICS_TOKEN: z.string().min(16, "must be at least 16 characters (e.g. openssl rand -hex 24)").optional(),
  MAILROOM_TRUST_PROXY: z
    .string()
    .transform(parseTrustProxy)
    .refine((v) => v !== null, "must be false, true, a number of proxy hops, or proxy addresses / CIDR ranges separated by commas")
    .optional(),
})
  // a misspelt variable must not be ignored silently
  .strict();

/** What MAILROOM_TRUST_PROXY may say: false, true, a hop count, or proxy addresses and CIDR ranges. */
export type TrustProxy = boolean | number | string[];

function parseTrustProxy(text: string): TrustProxy | null {
  const t = text.trim().toLowerCase();
  if (t === "false" || t === "no" || t === "0") return false;
  if (t === "true" || t === "yes") return true;
  if (/^[1-9][0-9]?$/.test(t)) return Number(t);
  const entries = t.split(",").map((e) => e.trim());
  const valid = entries.every((e) => {
    const [address, bits, ...rest] = e.split("/");
    if (rest.length > 0 || !address || net.isIP(address) === 0) return false;
    if (bits === undefined) return true;
    return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= (net.isIPv4(address) ? 32 : 128);
  });
  return valid ? entries : null;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  database: { dialect: "sqlite"; file: string } | { dialect: "postgres"; url: string };
  secretKey: string | undefined;
  adminPassword: string | undefined;
  logLevel: z.infer<typeof configSchema>["MAILROOM_LOG_LEVEL"];
  sessionHours: number;
  loginRateLimitPerMinute: number;
  cookieSecure: boolean;
  runnersEnabled: boolean;
  imapResyncSeconds: number;
  pop3PollSeconds: number;
  parseWorkers: number;
  /** heap limit of each parse worker: a message that needs more is wrapped as unparsable, the process lives on */
  parseWorkerMemoryMb: number;
  /** a bearer token that may read /metrics without signing in (for a Prometheus scrape) */
  metricsToken: string | undefined;
  /**
   * The outbox sender: how long a claim on an email holds (a node that died mid-send loses it after
   * this, and the email goes out once more), the wait after a first failed attempt (doubling each
   * time, up to an hour), and the attempts before an email counts as failed.
   */
  outbox: { leaseSeconds: number; retrySeconds: number; maxAttempts: number };
  /** whose X-Forwarded-For to believe: the client address behind a reverse proxy (rate limits, logs) */
  trustProxy: TrustProxy;
  /** only for `mailroom users create` in scripts */
  newUserPassword: string | undefined;
  /**
   * Microsoft 365: PEM certificates trusted besides the system's for Entra ID and Graph (a TLS-inspecting
   * proxy's CA, the Microsoft emulator's), the deadline of every token request, the URL Graph sends its
   * change notifications to (no URL: Graph mailboxes poll), and how often a Graph mailbox catches up
   * with a delta query even when notifications arrive.
   */
  microsoft: { trustedCaPem: string | null; tokenTimeoutMs: number; publicUrl: string | null; catchUpSeconds: number };
  /** the built web app (`npm run build` writes it to dist/web) that Mailroom serves at / */
  webDir: string;
  /**
   * Several nodes on one PostgreSQL: this node's name in the nodes view (host:port by default), and the
   * lease time: a node that stops renewing its mailboxes' leases loses them after this, and the other
   * nodes take them over.
   */
  node: { name: string; leaseSeconds: number };
}

/** dist/web beside the compiled server (dist/config.js), or, running the sources, the build's dist/web. */
function defaultWebDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const besideCompiled = path.join(here, "web");
  return fs.existsSync(besideCompiled) ? besideCompiled : path.resolve(here, "..", "dist", "web");
}

export class ConfigError extends Error {}

/** Parses the MAILROOM_* variables once; nothing else in Mailroom reads process.env. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith("MAILROOM_") && v !== undefined && v !== ""),
  );
  const parsed = configSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) =>
      i.code === "unrecognized_keys" ? `  unknown setting ${i.keys.join(", ")} (see the README's configuration table)` : `  ${i.path.join(".")}: ${i.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  const dataDir = path.resolve(c.MAILROOM_DATA_DIR);
  const url = c.MAILROOM_DATABASE_URL;
  const database: Config["database"] =
    url && !url.startsWith("sqlite:")
      ? { dialect: "postgres", url }
      : { dialect: "sqlite", file: url ? path.resolve(url.slice("sqlite:".length)) : path.join(dataDir, "mailroom.db") };
  return {
    port: c.MAILROOM_PORT,
    host: c.MAILROOM_HOST,
    dataDir,
    database,
    secretKey: c.MAILROOM_SECRET_KEY,
    adminPassword: c.MAILROOM_ADMIN_PASSWORD,
    logLevel: c.MAILROOM_LOG_LEVEL,
    sessionHours: c.MAILROOM_SESSION_HOURS,
    loginRateLimitPerMinute: c.MAILROOM_LOGIN_RATE_LIMIT,
    cookieSecure: c.MAILROOM_COOKIE_SECURE,
    runnersEnabled: c.MAILROOM_RUNNERS,
    imapResyncSeconds: c.MAILROOM_IMAP_RESYNC_SECONDS,
    pop3PollSeconds: c.MAILROOM_POP3_POLL_SECONDS,
    parseWorkers: c.MAILROOM_PARSE_WORKERS,
    parseWorkerMemoryMb: c.MAILROOM_PARSE_WORKER_MEMORY_MB,
    metricsToken: c.MAILROOM_METRICS_TOKEN,
    outbox: { leaseSeconds: c.MAILROOM_OUTBOX_LEASE_SECONDS, retrySeconds: c.MAILROOM_OUTBOX_RETRY_SECONDS, maxAttempts: c.MAILROOM_OUTBOX_MAX_ATTEMPTS },
    trustProxy: c.MAILROOM_TRUST_PROXY ?? false,
    newUserPassword: c.MAILROOM_NEW_USER_PASSWORD,
    microsoft: {
      trustedCaPem: c.MAILROOM_TRUSTED_CA_FILE === undefined ? null : readCaFile(c.MAILROOM_TRUSTED_CA_FILE),
      tokenTimeoutMs: c.MAILROOM_OAUTH_TIMEOUT_SECONDS * 1000,
      publicUrl: c.MAILROOM_PUBLIC_URL?.replace(/\/+$/, "") ?? null,
      catchUpSeconds: c.MAILROOM_GRAPH_CATCHUP_SECONDS,
    },
    webDir: c.MAILROOM_WEB_DIR === undefined ? defaultWebDir() : path.resolve(c.MAILROOM_WEB_DIR),
    node: { name: c.MAILROOM_NODE_NAME ?? `${os.hostname()}:${c.MAILROOM_PORT}`, leaseSeconds: c.MAILROOM_LEASE_SECONDS },
  };
}

function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n  MAILROOM_TRUSTED_CA_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(`Invalid configuration:\n  MAILROOM_TRUSTED_CA_FILE: ${file} holds no PEM certificate`);
  return pem;
}
