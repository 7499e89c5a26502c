import { targetCheck, type TargetCheck } from "../lib/run.js";
import type { LatencyResult } from "../microsoft/latency.js";
import type { StormResult } from "../microsoft/storm.js";
import { latencyLossChecks, stormLossChecks } from "../microsoft/targets.js";

/**
 * Push to Mailroom's event against push to a bare client of the same protocol: the bounds the project
 * holds IMAP IDLE to (bench:ingest), since an EWS stream is Exchange's IDLE.
 */
export const pushOverBareMs = { p50: 30, p99: 150 };

/** Mailroom's interaction.created within +30 ms (p50) and +150 ms (p99) of the bare streaming client's NewMailEvent; none lost or doubled. */
export function latencyTargets(r: LatencyResult): TargetCheck[] {
  return Object.values(r.corpora).flatMap((c) => [
    targetCheck("latency", `${c.corpus}: Mailroom event p50 minus bare NewMailEvent p50, ms`, `<= ${pushOverBareMs.p50}`, c.differenceMs.p50, c.differenceMs.p50 <= pushOverBareMs.p50),
    targetCheck("latency", `${c.corpus}: Mailroom event p99 minus bare NewMailEvent p99, ms`, `<= ${pushOverBareMs.p99}`, c.differenceMs.p99, c.differenceMs.p99 <= pushOverBareMs.p99),
    ...latencyLossChecks(c),
  ]);
}

/** Under ErrorServerBusy: nothing lost, nothing doubled (recovery and unread are reported, not held to a bound). */
export function stormTargets(r: StormResult): TargetCheck[] {
  return Object.values(r.corpora).flatMap(stormLossChecks);
}
