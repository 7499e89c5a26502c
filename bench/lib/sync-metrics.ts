import { round1 } from "./stats.js";

/** mailroom_mailbox_sync_seconds of one protocol, as GET /metrics showed it: cumulative since the process started. */
export interface SyncReading {
  count: number;
  sumSeconds: number;
  /** cumulative count per upper bound in seconds ("+Inf" included) */
  buckets: Record<string, number>;
}

/** What the mailbox syncs between two readings took. */
export interface SyncFigures {
  /** syncs (list, fetch, commit, acknowledge) that ended in the window */
  count: number;
  meanMs: number;
  /** how many of them ended within each bound, in ms (cumulative, as Prometheus counts) */
  withinMs: Record<string, number>;
}

/**
 * Reads Mailroom's histogram of sync durations for one protocol from GET /metrics (admin bearer
 * token): where a wake's time goes is the sync's time plus what precedes it, and the count says how
 * many messages one sync took on average.
 */
export async function readSyncSeconds(base: string, token: string, protocol: string): Promise<SyncReading> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics → ${res.status} ${text.slice(0, 200)}`);
  const reading: SyncReading = { count: 0, sumSeconds: 0, buckets: {} };
  for (const line of text.split("\n")) {
    const match = /^mailroom_mailbox_sync_seconds_(bucket|sum|count)\{([^}]*)\} ([0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (labels["protocol"] !== protocol) continue;
    const value = Number(match[3]);
    if (match[1] === "sum") reading.sumSeconds = value;
    else if (match[1] === "count") reading.count = value;
    else reading.buckets[labels["le"] ?? "?"] = value;
  }
  return reading;
}

export function syncsBetween(before: SyncReading, after: SyncReading): SyncFigures {
  const count = after.count - before.count;
  const withinMs: Record<string, number> = {};
  for (const [le, n] of Object.entries(after.buckets)) withinMs[le === "+Inf" ? "+Inf" : String(Math.round(Number(le) * 1000))] = n - (before.buckets[le] ?? 0);
  return { count, meanMs: count > 0 ? round1(((after.sumSeconds - before.sumSeconds) * 1000) / count) : Number.NaN, withinMs };
}
