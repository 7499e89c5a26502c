import type { ApiFigures } from "../ingest/api-probe.js";
import { nowMs, sleep } from "./clock.js";
import { round1, summarize } from "./stats.js";

export interface TimedApiFigures extends ApiFigures {
  /** the requests that took longer than `slowMs`: when each was sent (ms after `t0`) and how long it took, the first 30 */
  slow: { atMs: number; ms: number }[];
  slowCount: number;
}

/**
 * The API probe of bench:ingest (`ingest/api-probe.ts`: one GET back to back with a 20 ms pause, each timed
 * from the request to the last byte) on any path, which also keeps when each slow request was sent: a
 * failover's stalls can then be placed on its timeline.
 */
export class TimedApiProbe {
  readonly #latencies: number[] = [];
  readonly #slow: { atMs: number; ms: number }[] = [];
  #errors = 0;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #t0 = 0;

  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly path = "/api/v1/interactions?limit=50",
    private readonly slowMs = 100,
    private readonly pauseMs = 20,
  ) {}

  /** `t0`: the CLOCK_MONOTONIC ms (nowMs) the slow requests' times count from */
  start(t0 = nowMs()): void {
    this.#t0 = t0;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<TimedApiFigures> {
    this.#running = false;
    await this.#loop;
    return {
      ...summarize(this.#latencies),
      errors: this.#errors,
      pauseMs: this.pauseMs,
      slowCount: this.#slow.length,
      slow: this.#slow.slice(0, 30),
    };
  }

  async #run(): Promise<void> {
    const url = `${this.base}${this.path}`;
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
      if (ms > this.slowMs) this.#slow.push({ atMs: Math.round(started - this.#t0), ms: round1(ms) });
      await sleep(this.pauseMs);
    }
  }
}

/**
 * The node's event-loop delay since the last scrape, from prom-client's default metrics on GET /metrics
 * (its histogram is reset at every scrape): scrape once to start a window, once more to read it.
 */
export async function eventLoopLag(base: string, token: string): Promise<{ maxMs: number; p99Ms: number; meanMs: number }> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics → ${res.status} ${text.slice(0, 200)}`);
  const seconds = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
    return match ? round1(Number(match[1]) * 1000) : Number.NaN;
  };
  return { maxMs: seconds("nodejs_eventloop_lag_max_seconds"), p99Ms: seconds("nodejs_eventloop_lag_p99_seconds"), meanMs: seconds("nodejs_eventloop_lag_mean_seconds") };
}
