import { targetCheck, type TargetCheck } from "../lib/run.js";
import type { LatencyResult } from "../microsoft/latency.js";
import type { StormResult } from "../microsoft/storm.js";
import { latencyLossChecks, stormLossChecks } from "../microsoft/targets.js";

const check = targetCheck;

/** Notification → interaction committed (as the event stream shows it) p99 ≤ 500 ms, every message shown, none twice. */
export function latencyTargets(r: LatencyResult): TargetCheck[] {
  return Object.values(r.corpora).flatMap((c) => [
    check("latency", `${c.corpus}: deliver → interaction.created p99 ms over ${c.messages} messages`, "<= 500", c.mailroom.eventMs.p99, c.mailroom.eventMs.p99 <= 500),
    ...latencyLossChecks(c),
  ]);
}

/** Under a 429 storm: nothing lost or doubled, everything marked read, and back to the delivery rate within 5 s of its end. */
export function stormTargets(r: StormResult): TargetCheck[] {
  return Object.values(r.corpora).flatMap((c) => [
    ...stormLossChecks(c),
    check("storm", `${c.corpus}: messages still unread at the emulator after settling`, "= 0", c.unreadAtEmulator, c.unreadAtEmulator === 0),
    check("storm", `${c.corpus}: recovery ms after the storm (backlog committed, count caught up, throughput back)`, "<= 5000", c.recovery.recoveryMs ?? Number.NaN, c.recovery.recoveryMs !== null && c.recovery.recoveryMs <= 5000),
  ]);
}
