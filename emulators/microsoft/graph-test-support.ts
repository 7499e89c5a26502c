/**
 * Helpers for the Graph tests: an emulator in a temporary directory, HTTPS calls that trust only the emulator's CA,
 * tokens minted with the emulator's signer, and a notification receiver. Test code only; the emulator does not use it.
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { startEmulator, type EmulatorOptions, type StartedEmulator } from "./server.js";
import type { Seed } from "./seed.js";
import type { AccessTokenClaims } from "./tokens.js";

export const TENANT = "8a7c3f0e-5b1d-4c2a-9e6f-0d1c2b3a4f5e";
export const CLIENT = "3f2b1c4d-6e5f-4a7b-8c9d-0e1f2a3b4c5d";
export const SUPPORT = { id: "11111111-1111-4111-8111-111111111111", mail: "support@contoso.test" };
export const SALES = { id: "22222222-2222-4222-8222-222222222222", mail: "sales@contoso.test" };

/** The default seed's tenant and client, with users of their own for tests that need a mailbox nobody else touches. */
export function testSeed(extraUsers: { id: string; mail: string }[]): Seed {
  return {
    tenants: [
      {
        id: TENANT,
        domain: "contoso.test",
        clients: [{ clientId: CLIENT, clientSecret: "emulator-secret-0001" }],
        users: [SUPPORT, SALES, ...extraUsers].map((u) => ({ id: u.id, mail: u.mail, displayName: u.mail.split("@")[0] ?? u.mail })),
      },
    ],
  };
}

export interface TestEmulator {
  emulator: StartedEmulator;
  certDir: string;
  close(): Promise<void>;
}

export async function startTestEmulator(options: Omit<EmulatorOptions, "certDir"> = {}): Promise<TestEmulator> {
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-emu-"));
  const emulator = await startEmulator({ ...options, certDir });
  return {
    emulator,
    certDir,
    close: async () => {
      await emulator.close();
      fs.rmSync(certDir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** the body as JSON (undefined when it is not) */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read whatever Graph answered
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** sent as it is, with this content type, instead of JSON */
  raw?: { data: Buffer | string; contentType: string };
  headers?: Record<string, string>;
}

/** One HTTPS call to the emulator, trusting its CA and nothing else. `target` is a path or an absolute URL. */
export function call(emulator: StartedEmulator, method: string, target: string, options: CallOptions = {}): Promise<Reply> {
  const url = new URL(target, emulator.url);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let payload: Buffer | undefined;
  if (options.raw) {
    payload = Buffer.from(options.raw.data);
    headers["content-type"] = options.raw.contentType;
  } else if (options.body !== undefined) {
    payload = Buffer.from(JSON.stringify(options.body));
    headers["content-type"] = "application/json";
  }
  return new Promise<Reply>((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: emulator.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        const text = body.toString("utf8");
        let parsed: unknown;
        try {
          parsed = text === "" ? undefined : JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: parsed });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** An access token as Entra would issue it for Graph: application (roles) or delegated (scp, for one user). */
export function graphToken(
  emulator: StartedEmulator,
  grant: { roles: string[] } | { scp: string; user: { id: string; mail: string } },
  overrides: Partial<AccessTokenClaims> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const base: AccessTokenClaims = {
    aud: "https://graph.microsoft.com",
    iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    tid: TENANT,
    appid: CLIENT,
    azp: CLIENT,
    oid: "roles" in grant ? "99999999-9999-4999-8999-999999999999" : grant.user.id,
    iat: now,
    nbf: now - 300,
    exp: now + 3600,
    ver: "2.0",
    uti: randomUUID(),
    ...("roles" in grant ? { roles: grant.roles } : { scp: grant.scp, upn: grant.user.mail, preferred_username: grant.user.mail }),
  };
  return emulator.signer.sign({ ...base, ...overrides });
}

export const appToken = (emulator: StartedEmulator, roles = ["Mail.ReadWrite", "Mail.Send", "User.Read.All"]) => graphToken(emulator, { roles });

/** A message as it arrives from outside: CRLF line ends, the headers a test asserts on. */
export function sampleMime(subject: string, extra: { from?: string; to?: string; messageId?: string; body?: string } = {}): string {
  return [
    `From: "Customer Name" <${extra.from ?? "customer@example.org"}>`,
    `To: ${extra.to ?? SUPPORT.mail}`,
    `Subject: ${subject}`,
    `Message-ID: ${extra.messageId ?? `<${randomUUID()}@example.org>`}`,
    "Date: Mon, 4 Sep 2023 10:00:00 +0000",
    "MIME-Version: 1.0",
    'Content-Type: text/plain; charset="utf-8"',
    "",
    extra.body ?? `Body of ${subject}`,
    "",
  ].join("\r\n");
}

export async function deliver(emulator: StartedEmulator, to: string, mime: string): Promise<string> {
  const r = await call(emulator, "POST", "/_emulator/deliver", { body: { to, mime } });
  if (r.status !== 201) throw new Error(`deliver failed: ${r.status} ${r.text}`);
  return (r.json as { id: string }).id;
}

export interface Received {
  path: string;
  query: URLSearchParams;
  contentType: string;
  body: string;
}

/** How a receiver answers a POST that is not a validation request. */
export type Answer = { status: number; body?: string; contentType?: string };

/**
 * A subscriber's endpoint on 127.0.0.1: answers Graph's validation handshake (or refuses to, per `validation`), records
 * every notification, and lets a test wait for them without sleeping.
 */
export class Receiver {
  readonly received: Received[] = [];
  /** the validation tokens the handshakes brought, decoded */
  readonly validations: string[] = [];
  validation: "echo" | "wrong" | "error" = "echo";
  /** the answer to each notification POST, in turn; the last one repeats */
  answers: Answer[] = [{ status: 202 }];
  readonly #server: http.Server | https.Server;
  readonly #waiters = new Set<() => void>();
  #url = "";

  constructor(tlsOptions?: { key: string; cert: string }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const token = url.searchParams.get("validationToken");
        if (token !== null) {
          this.validations.push(token);
          if (this.validation === "error") res.writeHead(500).end();
          else res.writeHead(200, { "content-type": "text/plain" }).end(this.validation === "echo" ? token : "not the token");
          return;
        }
        this.received.push({ path: url.pathname, query: url.searchParams, contentType: String(req.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") });
        const answer = this.answers.length > 1 ? (this.answers.shift() as Answer) : (this.answers[0] ?? { status: 202 });
        res.writeHead(answer.status, { "content-type": answer.contentType ?? "text/plain" }).end(answer.body ?? "");
        for (const w of [...this.#waiters]) w();
      });
    };
    this.#server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve()));
    const scheme = this.#server instanceof https.Server ? "https" : "http";
    this.#url = `${scheme}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  url(p = "/notify"): string {
    return `${this.#url}${p}`;
  }

  /** Every notification item received so far, from every POST's value array. */
  items(): Record<string, unknown>[] {
    return this.received.flatMap((r) => ((JSON.parse(r.body) as { value?: Record<string, unknown>[] }).value ?? []));
  }

  /** Resolves once `count` items satisfying `match` have arrived (fails the test after 15 s instead of hanging). */
  waitForItems(count: number, match: (item: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.items().filter(match);
        if (found.length < count) return false;
        this.#waiters.delete(check);
        clearTimeout(guard);
        resolve(found);
        return true;
      };
      const guard = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`waited for ${count} notification(s), got ${this.items().filter(match).length}`));
      }, 15_000);
      if (!check()) this.#waiters.add(check);
    });
  }

  /** Resolves once `count` POSTs (retries included) have arrived. */
  waitForPosts(count: number): Promise<Received[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.received.length < count) return false;
        this.#waiters.delete(check);
        clearTimeout(guard);
        resolve(this.received.slice(0, count));
        return true;
      };
      const guard = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`waited for ${count} POST(s), got ${this.received.length}`));
      }, 15_000);
      if (!check()) this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
