import { targetCheck, type TargetCheck } from "../lib/run.js";
import type { LatencyCorpusResult } from "./latency.js";
import type { StormCorpusResult } from "./storm.js";

/** Every message of the latency scenario shown, and none twice: what both Microsoft benchmarks hold Mailroom to. */
export function latencyLossChecks(c: LatencyCorpusResult): TargetCheck[] {
  return [
    targetCheck("latency", `${c.corpus}: messages lost (not listed by the API)`, "= 0", c.mailroom.lost, c.mailroom.lost === 0),
    targetCheck("latency", `${c.corpus}: Message-IDs with more than one interaction`, "= 0", c.mailroom.duplicates, c.mailroom.duplicates === 0),
  ];
}

/** Nothing lost or doubled under the storm, by the API and by the events. */
export function stormLossChecks(c: StormCorpusResult): TargetCheck[] {
  return [
    targetCheck("storm", `${c.corpus}: messages lost (of ${c.delivered} delivered)`, "= 0", c.lost, c.lost === 0),
    targetCheck("storm", `${c.corpus}: Message-IDs with more than one interaction`, "= 0", c.duplicates + c.duplicatesByEvents, c.duplicates + c.duplicatesByEvents === 0),
  ];
}
