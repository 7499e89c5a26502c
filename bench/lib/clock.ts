/**
 * Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares: a timestamp taken in a
 * child process compares with one taken here, with no offset to estimate.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A uniformly random duration in [minMs, maxMs]. */
export const between = (minMs: number, maxMs: number): number => minMs + Math.random() * (maxMs - minMs);

/** Polls check() every intervalMs until it returns a value, or throws after deadlineMs naming what it waited for. */
export async function waitUntil<T>(what: string, deadlineMs: number, intervalMs: number, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out after ${Math.round(deadlineMs / 1000)} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Progress for the person watching; stdout carries only the JSON result. */
export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
