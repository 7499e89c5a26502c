import { nowMs, sleep } from "../lib/clock.js";
import { round1, summarize, type Summary } from "../lib/stats.js";

export interface ApiFigures extends Summary {
  errors: number;
  pauseMs: number;
  /** the requests slower than `slowMs`: when each was sent (ms after `start`'s t0) and how long it took, the first 30 */
  slow: { atMs: number; ms: number }[];
  slowCount: number;
}

export interface ApiProbeOptions {
  /** what to GET; the interaction list an agent's screen shows by default */
  path?: string;
  pauseMs?: number;
  /** requests slower than this are kept with their time, so that stalls can be placed on a timeline */
  slowMs?: number;
}

/**
 * What an agent's screen would feel while Mailroom is busy: GET /api/v1/interactions?limit=50 (or
 * another path) back to back with a short pause, each timed from the request to the last byte of the answer.
 */
export class ApiProbe {
  readonly #latencies: number[] = [];
  readonly #slow: { atMs: number; ms: number }[] = [];
  #errors = 0;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #t0 = 0;
  readonly #path: string;
  readonly #pauseMs: number;
  readonly #slowMs: number;

  constructor(
    private readonly base: string,
    private readonly token: string,
    options: ApiProbeOptions = {},
  ) {
    this.#path = options.path ?? "/api/v1/interactions?limit=50";
    this.#pauseMs = options.pauseMs ?? 20;
    this.#slowMs = options.slowMs ?? 100;
  }

  /** `t0`: the CLOCK_MONOTONIC ms (nowMs) the slow requests' times count from */
  start(t0 = nowMs()): void {
    this.#t0 = t0;
    this.#running = true;
    this.#loop = this.run();
  }

  async stop(): Promise<ApiFigures> {
    this.#running = false;
    await this.#loop;
    return { ...summarize(this.#latencies), errors: this.#errors, pauseMs: this.#pauseMs, slowCount: this.#slow.length, slow: this.#slow.slice(0, 30) };
  }

  private async run(): Promise<void> {
    const url = `${this.base}${this.#path}`;
    const headers = { authorization: `Bearer ${this.token}` };
    while (this.#running) {
      const started = nowMs();
      try {
        const res = await fetch(url, { headers });
        await res.text();
        if (!res.ok) this.#errors++;
      } catch {
        this.#errors++;
      }
      const ms = nowMs() - started;
      this.#latencies.push(ms);
      if (ms > this.#slowMs) this.#slow.push({ atMs: Math.round(started - this.#t0), ms: round1(ms) });
      await sleep(this.#pauseMs);
    }
  }
}
