import { targetCheck, type TargetCheck } from "../lib/run.js";
import type { BacklogResult } from "./backlog.js";
import type { FairnessResult } from "./fairness.js";
import type { LatencyFigures } from "./latency-probe.js";
import type { LatencyResult } from "./latency.js";
import type { ScaleResult } from "./scale.js";

const check = targetCheck;

/** Mailroom's event time against the bare client's EXISTS: +30 ms at p50, +150 ms at p99. */
function latencyChecks(scenario: string, phase: string, f: LatencyFigures): TargetCheck[] {
  return [
    check(scenario, `${phase}: Mailroom p50 minus bare p50, ms`, "<= 30", f.differenceMs.p50, f.differenceMs.p50 <= 30),
    check(scenario, `${phase}: Mailroom p99 minus bare p99, ms`, "<= 150", f.differenceMs.p99, f.differenceMs.p99 <= 150),
  ];
}

/**
 * On each corpus and workers value: the median ratio over the runs, and the API's worst p99 of any run
 * (both of the drains without routes); with `--routes N`, also what the routes cost: at most 10% of the
 * msg/s, on the median of each run's drain with the routes over its drain without.
 */
export function backlogTargets(r: BacklogResult): TargetCheck[] {
  return Object.entries(r.corpora).flatMap(([corpus, result]) =>
    result.median.mailroom.flatMap((m) => {
      const tag = `${corpus}, MAILROOM_PARSE_WORKERS=${m.parseWorkers}`;
      const routing = result.median.routing;
      const withRoutes = routing?.mailroom.find((w) => w.parseWorkers === m.parseWorkers);
      return [
        check("backlog", `${tag}: msg/s over the faster bare parser's, median of ${m.ratios.length} runs`, ">= 0.75", m.ratio, m.ratio >= 0.75),
        check("backlog", `${tag}: API p99 ms while draining, worst of ${m.ratios.length} runs`, "<= 100", m.apiP99Worst, m.apiP99Worst <= 100),
        ...(routing && withRoutes
          ? [
              check(
                "backlog",
                `${tag}: routing with ${routing.routes} routes: msg/s with routes over msg/s without, median of ${withRoutes.ratios.length} runs`,
                ">= 0.90",
                withRoutes.ratio,
                withRoutes.ratio >= 0.9,
              ),
            ]
          : []),
      ];
    }),
  );
}

export function latencyTargets(r: LatencyResult): TargetCheck[] {
  return [...latencyChecks("latency", "singles", r.singles), ...latencyChecks("latency", "stream", r.stream)];
}

export function fairnessTargets(r: FairnessResult): TargetCheck[] {
  return latencyChecks("fairness", `quiet mailbox while ${r.busyMailboxes} others drain`, r.latency);
}

export function scaleTargets(r: ScaleResult): TargetCheck[] {
  const memoryRatio = r.mailroom.perMailboxKb / r.bare.perConnectionKb;
  const timeRatio = r.mailroom.allOkMs / r.bare.connectAllMs;
  // what the machine gives Mailroom: the server process and its parse workers
  const totalMb = r.mailroom.allTreeRssKb / 1024;
  return [
    check("scale", "memory per mailbox over the bare client's per connection", "<= 2", Math.round(memoryRatio * 100) / 100, memoryRatio <= 2),
    check("scale", `total RSS with ${r.mailboxes} mailboxes (parse workers included), MB`, "<= 300", Math.round(totalMb), totalMb <= 300),
    check("scale", "time to all IDLE over the bare connect time", "<= 2", Math.round(timeRatio * 100) / 100, timeRatio <= 2),
    check("scale", `latency at ${r.mailboxes}: Mailroom p99 minus bare p99, ms`, "<= 150", r.latency.differenceMs.p99, r.latency.differenceMs.p99 <= 150),
  ];
}
