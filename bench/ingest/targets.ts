import type { BacklogResult } from "./backlog.js";
import type { LatencyResult } from "./latency.js";
import type { ScaleResult } from "./scale.js";

export interface TargetCheck {
  scenario: string;
  what: string;
  target: string;
  value: number;
  met: boolean;
}

const check = (scenario: string, what: string, target: string, value: number, met: boolean): TargetCheck => ({ scenario, what, target, value, met });

export function backlogTargets(r: BacklogResult): TargetCheck[] {
  return r.runs.flatMap((run) =>
    run.mailroom.flatMap((m) => {
      const tag = `run ${run.run}, MAILROOM_PARSE_WORKERS=${m.parseWorkers}`;
      return [
        check("backlog", `${tag}: msg/s over the baseline's`, ">= 0.6", m.ratio, m.ratio >= 0.6),
        check("backlog", `${tag}: API p99 ms while draining`, "<= 100", m.api.p99, m.api.p99 <= 100),
      ];
    }),
  );
}

export function latencyTargets(r: LatencyResult): TargetCheck[] {
  return (["singles", "stream"] as const).flatMap((phase) => [
    check("latency", `${phase}: Mailroom p50 minus bare p50, ms`, "<= 30", r[phase].differenceMs.p50, r[phase].differenceMs.p50 <= 30),
    check("latency", `${phase}: Mailroom p99 minus bare p99, ms`, "<= 150", r[phase].differenceMs.p99, r[phase].differenceMs.p99 <= 150),
  ]);
}

export function scaleTargets(r: ScaleResult): TargetCheck[] {
  const memoryRatio = r.mailroom.perMailboxKb / r.bare.perConnectionKb;
  const timeRatio = r.mailroom.allOkMs / r.bare.connectAllMs;
  const totalMb = r.mailroom.allRssKb / 1024;
  return [
    check("scale", "memory per mailbox over the bare client's per connection", "<= 2", Math.round(memoryRatio * 100) / 100, memoryRatio <= 2),
    check("scale", `total RSS with ${r.mailboxes} mailboxes, MB`, "<= 300", Math.round(totalMb), totalMb <= 300),
    check("scale", "time to all IDLE over the bare connect time", "<= 2", Math.round(timeRatio * 100) / 100, timeRatio <= 2),
    check("scale", `latency at ${r.mailboxes}: Mailroom p99 minus bare p99, ms`, "<= 150", r.latency.differenceMs.p99, r.latency.differenceMs.p99 <= 150),
  ];
}
