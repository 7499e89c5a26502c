import { targetCheck, type TargetCheck } from "../lib/run.js";
import type { OutboundResult } from "./scenario.js";

const check = (what: string, target: string, value: number, met: boolean): TargetCheck => targetCheck("outbound", what, target, value, met);

/**
 * Per corpus, on the medians over the runs: ≥ 200 msg/s to the sink and until every reply shows as
 * sent, ≥ 0.7× the bare nodemailer pool in the same run, and the API's p99 ≤ 100 ms in every drain.
 */
export function outboundTargets(r: OutboundResult): TargetCheck[] {
  return Object.entries(r.corpora).flatMap(([corpus, result]) => {
    const m = result.median;
    const runs = `${m.ratios.length} run${m.ratios.length === 1 ? "" : "s"}`;
    return [
      check(`${corpus}: msg/s from the outbox to the sink's last message, median of ${runs}`, ">= 200", m.mailroomMsgPerSec, m.mailroomMsgPerSec >= 200),
      check(`${corpus}: msg/s until every reply is sent as the API shows it, median of ${runs}`, ">= 200", m.mailroomMsgPerSecAllSent, m.mailroomMsgPerSecAllSent >= 200),
      check(`${corpus}: msg/s over bare nodemailer's (pool of ${r.maxConnections}) on the same messages, median of ${runs}`, ">= 0.7", m.ratio, m.ratio >= 0.7),
      check(`${corpus}: API p99 ms while draining, worst of ${runs}`, "<= 100", m.apiP99Worst, m.apiP99Worst <= 100),
    ];
  });
}
