import type { ApiClient } from "../../test/support/mailroom-process.js";
import { nowMs, sleep } from "./clock.js";

const apiRetryMs = 5;
const apiGiveUpMs = 10_000;

/**
 * Reads the interactions that `interaction.created` events name, as the web UI would to show them: a
 * 404 (the reader has not seen the commit yet) is tried again every 5 ms for up to 10 s. Counts those
 * retries and keeps the first errors, for the report.
 */
export class InteractionReader {
  readonly #errors: string[] = [];
  #retries = 0;

  constructor(private readonly api: Pick<ApiClient, "base" | "token">) {}

  /** The interaction's Message-ID (without <>) and when the API answered; null after an error, which is kept. */
  async messageIdOf(interactionId: string): Promise<{ messageId: string; apiAt: number } | null> {
    const url = `${this.api.base}/api/v1/interactions/${encodeURIComponent(interactionId)}`;
    const headers = { authorization: `Bearer ${this.api.token}` };
    const until = nowMs() + apiGiveUpMs;
    for (;;) {
      try {
        const res = await fetch(url, { headers });
        const text = await res.text();
        const apiAt = nowMs();
        if (res.ok) return { messageId: ((JSON.parse(text) as { messageId: string | null }).messageId ?? "").replace(/^<|>$/g, ""), apiAt };
        if (res.status !== 404 || apiAt > until) {
          this.#errors.push(`GET /api/v1/interactions/${interactionId} → ${res.status}`);
          return null;
        }
        this.#retries++;
      } catch (err) {
        this.#errors.push(`GET /api/v1/interactions/${interactionId}: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      }
      await sleep(apiRetryMs);
    }
  }

  get retries(): number {
    return this.#retries;
  }

  /** the first 10 */
  get errors(): string[] {
    return this.#errors.slice(0, 10);
  }
}
