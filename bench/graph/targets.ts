import { targetCheck, type TargetCheck } from "../lib/run.js";
import type { LatencyResult } from "./latency.js";
import type { StormResult } from "./storm.js";

const check = targetCheck;

/** Notification → interaction committed (as the event stream shows it) p99 ≤ 500 ms, every message shown, none twice. */
export function latencyTargets(r: LatencyResult): TargetCheck[] {
  return Object.values(r.corpora).flatMap((c) => [
    check("latency", `${c.corpus}: deliver → interaction.created p99 ms over ${c.messages} messages`, "<= 500", c.mailroom.eventMs.p99, c.mailroom.eventMs.p99 <= 500),
    check("latency", `${c.corpus}: messages lost (not listed by the API)`, "= 0", c.mailroom.lost, c.mailroom.lost === 0),
    check("latency", `${c.corpus}: Message-IDs with more than one interaction`, "= 0", c.mailroom.duplicates, c.mailroom.duplicates === 0),
  ]);
}

/** Under a 429 storm: nothing lost or doubled, everything marked read, and back to the delivery rate within 5 s of its end. */
export function stormTargets(r: StormResult): TargetCheck[] {
  return Object.values(r.corpora).flatMap((c) => [
    check("storm", `${c.corpus}: messages lost (of ${c.delivered} delivered)`, "= 0", c.lost, c.lost === 0),
    check("storm", `${c.corpus}: Message-IDs with more than one interaction`, "= 0", c.duplicates + c.duplicatesByEvents, c.duplicates + c.duplicatesByEvents === 0),
    check("storm", `${c.corpus}: messages still unread at the emulator after settling`, "= 0", c.unreadAtEmulator, c.unreadAtEmulator === 0),
    check("storm", `${c.corpus}: recovery ms after the storm (backlog committed, count caught up, throughput back)`, "<= 5000", c.recovery.recoveryMs ?? Number.NaN, c.recovery.recoveryMs !== null && c.recovery.recoveryMs <= 5000),
  ]);
}
