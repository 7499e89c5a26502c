import { round1 } from "./stats.js";

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
