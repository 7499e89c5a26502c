import { nowMs, sleep } from "../lib/clock.js";
import { summarize, type Summary } from "../lib/stats.js";

export interface ApiFigures extends Summary {
  errors: number;
  pauseMs: number;
}

/**
 * What an agent's screen would feel while Mailroom is busy: GET /api/v1/interactions?limit=50 back to
 * back with a short pause, each timed from the request to the last byte of the answer.
 */
export class ApiProbe {
  readonly #latencies: number[] = [];
  #errors = 0;
  #running = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly pauseMs = 20,
  ) {}

  start(): void {
    this.#running = true;
    this.#loop = this.run();
  }

  async stop(): Promise<ApiFigures> {
    this.#running = false;
    await this.#loop;
    return { ...summarize(this.#latencies), errors: this.#errors, pauseMs: this.pauseMs };
  }

  private async run(): Promise<void> {
    const url = `${this.base}/api/v1/interactions?limit=50`;
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
      this.#latencies.push(nowMs() - started);
      await sleep(this.pauseMs);
    }
  }
}
