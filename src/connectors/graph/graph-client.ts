import { setMaxListeners } from "node:events";
import https from "node:https";
import { httpsRequest, type HttpsAnswer } from "../../shared/https-request.js";
import { Semaphore } from "../../shared/semaphore.js";
import { sleep } from "../../shared/sleep.js";
import { MailSourceError, type CredentialProvider } from "../mail-source.js";
import { networkError } from "../network-errors.js";

export interface GraphClientOptions {
  /** https://graph.microsoft.com, or the emulator's https://127.0.0.1:PORT */
  baseUrl: string;
  /** the mailbox's login: Graph paths name the user by it (/users/{login}) */
  login: string;
  credentials: CredentialProvider;
  ca: string[] | undefined;
  timeoutMs: number;
  /** Microsoft allows 4 concurrent requests per mailbox (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits) */
  maxConcurrent?: number;
  /**
   * How long a request keeps being retried while Graph throttles it or is unavailable, before the error
   * reaches the runner. Throttling is Graph asking to slow down, not a failure: the default waits it out.
   */
  retryBudgetMs?: number;
  signal?: AbortSignal;
}

/** Graph's error body: {"error": {"code", "message"}} (https://learn.microsoft.com/graph/errors). */
export interface GraphErrorBody {
  code: string;
  message: string;
}

export class GraphRequestError extends Error {
  constructor(
    readonly status: number,
    readonly graph: GraphErrorBody | null,
    message: string,
  ) {
    super(message);
    this.name = "GraphRequestError";
  }
}

const retryable = new Set([429, 503, 504]);

/**
 * The few Microsoft Graph calls Mailroom makes, over node:https: the bearer token from the mailbox's
 * credential provider (a fresh one after a 401, once), at most 4 requests in flight per mailbox, and
 * throttling honoured — Retry-After when Graph sends one, else a doubling wait — before giving up.
 */
export class GraphClient {
  readonly #options: GraphClientOptions;
  readonly #slots: Semaphore;
  readonly #agent: https.Agent;
  readonly #host: string;
  readonly #port: number;
  /** Graph said Retry-After: no request of this mailbox goes out before then */
  #pausedUntil = 0;

  constructor(options: GraphClientOptions) {
    this.#options = options;
    this.#slots = new Semaphore(options.maxConcurrent ?? 4);
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: options.maxConcurrent ?? 4 });
    const url = new URL(options.baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port || 443);
    // every waiting request listens on the signal: more than Node's default 10 is normal here
    if (options.signal) setMaxListeners(1000, options.signal);
  }

  /** `/users/{login}` + rest, with the login escaped */
  userPath(rest: string): string {
    return `/v1.0/users/${encodeURIComponent(this.#options.login)}${rest}`;
  }

  async json<T>(method: string, pathOrUrl: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const answer = await this.request(method, pathOrUrl, body === undefined ? { headers } : { body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
    return (answer.body.length > 0 ? JSON.parse(answer.body.toString("utf8")) : {}) as T;
  }

  /** One Graph call; throws GraphRequestError for an answer Graph gave, MailSourceError when there was none worth retrying. */
  async request(method: string, pathOrUrl: string, init: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<HttpsAnswer> {
    const url = pathOrUrl.startsWith("https://") ? pathOrUrl : `${this.#options.baseUrl}${pathOrUrl}`;
    const giveUpAt = Date.now() + (this.#options.retryBudgetMs ?? 120_000);
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const paused = this.#pausedUntil - Date.now();
      if (paused > 0) await sleep(paused, this.#options.signal);
      if (this.#options.signal?.aborted) throw new MailSourceError("closed", "The mailbox was stopped.");
      const answer = await this.#slots.run(async () => {
        const credential = await this.#options.credentials.get();
        const token = credential.method === "xoauth2" ? credential.accessToken : "";
        try {
          return await httpsRequest(url, {
            method,
            headers: { authorization: `Bearer ${token}`, accept: "application/json", ...init.headers },
            ...(init.body === undefined ? {} : { body: init.body }),
            timeoutMs: this.#options.timeoutMs,
            ca: this.#options.ca,
            agent: this.#agent,
          });
        } catch (err) {
          throw (
            networkError(err, { host: this.#host, port: this.#port, connectTimeoutMs: this.#options.timeoutMs }) ??
            new MailSourceError("timeout", `Microsoft Graph at ${this.#host} did not answer: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err })
          );
        }
      });
      if (answer.status < 300) return answer;
      const graph = graphErrorOf(answer);
      if (answer.status === 401 && !refreshed) {
        // the token expired or was revoked early: one more try with a new one
        this.#options.credentials.refused();
        refreshed = true;
        continue;
      }
      if (retryable.has(answer.status) && Date.now() < giveUpAt) {
        const delay = retryDelayMs(answer, attempt);
        // Microsoft: after a 429, wait Retry-After before sending more requests — all of this mailbox's, not just this one
        // (https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling)
        if (answer.headers["retry-after"] !== undefined) this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + delay);
        else await sleep(delay, this.#options.signal);
        continue;
      }
      throw toError(answer.status, graph, this.#options.login, method, url);
    }
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Retry-After in seconds as Graph sends it (capped at a minute), else 1, 2, 4 … 30 s. */
export function retryDelayMs(answer: Pick<HttpsAnswer, "headers">, attempt: number): number {
  const header = answer.headers["retry-after"];
  const seconds = header === undefined ? NaN : Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 60) * 1000;
  return Math.min(1000 * 2 ** (attempt - 1), 30_000);
}

function graphErrorOf(answer: HttpsAnswer): GraphErrorBody | null {
  try {
    const parsed = JSON.parse(answer.body.toString("utf8")) as { error?: { code?: unknown; message?: unknown } };
    if (parsed.error && typeof parsed.error.code === "string") return { code: parsed.error.code, message: typeof parsed.error.message === "string" ? parsed.error.message : "" };
  } catch {
    // not JSON: a proxy's page, an empty body
  }
  return null;
}

function toError(status: number, graph: GraphErrorBody | null, login: string, method: string, url: string): Error {
  const said = graph ? `${graph.code}: ${graph.message}` : `HTTP ${status}`;
  if (status === 401) return new MailSourceError("auth_failed", `Microsoft Graph refused the access token for ${login}.`, said);
  if (status === 403) {
    return new MailSourceError(
      "consent_required",
      `Microsoft Graph denied access to the mailbox ${login}: the Azure app needs Mail.ReadWrite (to read and mark read) or Mail.Send (to send) with admin consent, and access to this mailbox.`,
      said,
    );
  }
  if (retryable.has(status)) return new MailSourceError("throttled", `Microsoft Graph kept throttling requests for ${login} (HTTP ${status}); Mailroom will try again.`, said);
  return new GraphRequestError(status, graph, `Microsoft Graph answered ${method} ${new URL(url).pathname} with ${said}`);
}
