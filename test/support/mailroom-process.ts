import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../../src/config.js";
import { freePort } from "./net.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface MailroomProcess {
  base: string;
  pid: number;
  child: ChildProcess;
  /** everything the process printed */
  output(): string;
  /** SIGKILL, and wait for the exit */
  kill9(): Promise<void>;
  /** SIGTERM, and wait for the exit */
  stop(): Promise<void>;
}

export interface MailroomProcessOptions {
  dataDir: string;
  /** the database to use instead of the SQLite file in the data dir (e.g. a test's PostgreSQL database) */
  database?: Config["database"];
  port?: number;
  env?: Record<string, string>;
  /** node flags, e.g. ["--expose-gc"] */
  nodeArgs?: string[];
  /** run the compiled server in dist/ (what `npm start` runs; build it first) instead of the sources through tsx */
  compiled?: boolean;
}

/** The process could not listen: another socket took the port between freePort() and the process's listen. */
class PortTaken extends Error {}

/**
 * Runs `mailroom start` as a real, separate process: from the TypeScript source (through tsx), or
 * compiled. A port found free can be taken by another socket of the run (a browser's connection, a
 * parallel test's server) before the process, seconds later, listens on it; without a port given,
 * such a start is tried again on a new port.
 */
export async function startMailroomProcess(opts: MailroomProcessOptions): Promise<MailroomProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, opts.port ?? (await freePort()));
    } catch (err) {
      if (!(err instanceof PortTaken) || opts.port !== undefined || attempt === 5) throw err;
    }
  }
}

async function startOnce(opts: MailroomProcessOptions, port: number): Promise<MailroomProcess> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const program = opts.compiled ? [path.join(root, "dist/main.js")] : ["--import", "tsx", path.join(root, "src/main.ts")];
  if (opts.compiled && !fs.existsSync(program[0]!)) throw new Error("dist/main.js is missing: run `npm run build` first");
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...program, "start"], {
    cwd: root,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/root",
      MAILROOM_PORT: String(port),
      MAILROOM_HOST: "127.0.0.1",
      MAILROOM_DATA_DIR: opts.dataDir,
      MAILROOM_ADMIN_PASSWORD: "admin-password-1",
      MAILROOM_LOG_LEVEL: "warn",
      ...(opts.database ? { MAILROOM_DATABASE_URL: databaseUrl(opts.database) } : {}),
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      const message = `mailroom exited with ${child.exitCode}:\n${out}`;
      throw out.includes("EADDRINUSE") ? new PortTaken(message) : new Error(message);
    }
    try {
      // whatever else holds the port may accept and never answer: each probe has a deadline
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`mailroom did not become ready within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    pid: child.pid!,
    child,
    output: () => out,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The MAILROOM_DATABASE_URL that names the database. */
function databaseUrl(database: Config["database"]): string {
  return database.dialect === "postgres" ? database.url : `sqlite:${database.file}`;
}

/** A small client of the HTTP API for tests and benchmarks that drive a real process. */
export class ApiClient {
  constructor(
    readonly base: string,
    readonly token = "",
  ) {}

  static async login(base: string, username = "admin", password = "admin-password-1"): Promise<ApiClient> {
    const res = await fetch(`${base}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    return new ApiClient(base, ((await res.json()) as { token: string }).token);
  }

  async call<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${this.base}${url}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
