import { randomUUID } from "node:crypto";
import http, { type ClientRequest } from "node:http";
import https from "node:https";
import tls from "node:tls";
import type { EmulatorContext } from "./context.js";

/**
 * What Graph does when it calls a subscriber (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks):
 * the validation handshake must be answered within 10 s; a notification must be acknowledged with a 2xx within 3 s,
 * else Graph retries "multiple times, for up to 4 hours" and then discards it, and slow endpoints get throttled (delayed
 * by 10 minutes, eventually dropped). The emulator keeps the timeouts, retries a failed POST three times (after 0.5, 2
 * and 8 s) and then discards it; it does not throttle slow endpoints.
 */
export const VALIDATION_TIMEOUT_MS = 10_000;
export const NOTIFICATION_TIMEOUT_MS = 3_000;
const RETRY_DELAYS_MS = [500, 2_000, 8_000];
/** Changes for the same URL that happen this close together go out in one POST, as Graph batches them. */
const BATCH_WINDOW_MS = 5;

export interface PostResult {
  status: number;
  contentType: string;
  body: string;
}

export type HandshakeResult = "ok" | "mismatch" | "failed";

/** Outgoing calls to subscribers: the handshake, and change and lifecycle notifications. */
export class Notifier {
  readonly #ctx: EmulatorContext;
  readonly #queues = new Map<string, { url: string; items: object[] }>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<ClientRequest>();
  #stopped = false;

  constructor(ctx: EmulatorContext) {
    this.#ctx = ctx;
  }

  /**
   * POST {url}?validationToken=... with an empty text/plain body; the endpoint must answer 200, text/plain, with the
   * decoded token (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation).
   * Graph's tokens are readable text with spaces and a colon, form-encoded in the query (spaces as "+"), which catches
   * endpoints that echo the still-encoded value or decode it with decodeURIComponent.
   */
  async handshake(url: string): Promise<HandshakeResult> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    target.searchParams.append("validationToken", token);
    try {
      const r = await this.post(target.toString(), "", "text/plain; charset=utf-8", VALIDATION_TIMEOUT_MS);
      if (r.status !== 200) return "failed";
      return r.body === token && r.contentType.toLowerCase().startsWith("text/plain") ? "ok" : "mismatch";
    } catch {
      return "failed";
    }
  }

  /** Queues one notification for `url`; those queued within a few ms go out together as one changeNotificationCollection. */
  enqueue(kind: "change" | "lifecycle", url: string, item: object): void {
    if (this.#stopped) return;
    const key = `${kind} ${url}`;
    const queued = this.#queues.get(key);
    if (queued) {
      queued.items.push(item);
      return;
    }
    this.#queues.set(key, { url, items: [item] });
    this.#later(BATCH_WINDOW_MS, () => {
      const batch = this.#queues.get(key);
      this.#queues.delete(key);
      if (batch) this.#deliver(batch.url, JSON.stringify({ value: batch.items }), 0);
    });
  }

  #deliver(url: string, payload: string, attempt: number): void {
    if (this.#stopped) return;
    const retry = () => {
      const delay = RETRY_DELAYS_MS[attempt];
      if (delay !== undefined) this.#later(delay, () => this.#deliver(url, payload, attempt + 1));
    };
    this.post(url, payload, "application/json; charset=utf-8", NOTIFICATION_TIMEOUT_MS).then(
      (r) => {
        if (r.status < 200 || r.status > 299) retry();
      },
      () => retry(),
    );
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** One POST; https URLs are checked against the emulator's CA and the system's. */
  post(url: string, body: string, contentType: string, timeoutMs: number): Promise<PostResult> {
    return new Promise<PostResult>((resolve, reject) => {
      if (this.#stopped) {
        reject(new Error("the emulator is closing"));
        return;
      }
      const target = new URL(url);
      const options = {
        method: "POST",
        headers: { "content-type": contentType, "content-length": String(Buffer.byteLength(body)), "user-agent": "Microsoft-Graph-Emulator/1.0" },
        timeout: timeoutMs,
      };
      const onResponse = (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      };
      const req =
        target.protocol === "https:"
          ? https.request(target, { ...options, ca: [this.#ctx.caPem, ...tls.rootCertificates] }, onResponse)
          : http.request(target, options, onResponse);
      this.#inflight.add(req);
      req.on("close", () => this.#inflight.delete(req));
      // the whole exchange, not only socket idleness, must fit in the time Graph allows
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on("close", () => clearTimeout(deadline));
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#queues.clear();
    for (const r of this.#inflight) r.destroy();
    this.#inflight.clear();
  }
}
