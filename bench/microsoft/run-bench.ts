import { runScenarios, startRun, type TargetCheck } from "../lib/run.js";
import { latencyScenario, type LatencyResult } from "./latency.js";
import { parseOptions } from "./options.js";
import type { MicrosoftProtocol } from "./protocol.js";
import { stormScenario, type StormResult } from "./storm.js";

/**
 * A Microsoft benchmark from the command line (`npm run bench:<protocol>`): its options, the build,
 * the latency and storm scenarios for the protocol held to its targets, the report.
 */
export async function runMicrosoftBench(
  protocol: MicrosoftProtocol,
  opts: { catchUpDefault: number; latencyTargets: (r: LatencyResult) => TargetCheck[]; stormTargets: (r: StormResult) => TargetCheck[] },
): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env, { command: `bench:${protocol.name}`, catchUpVariable: protocol.catchUpVariable, catchUpDefault: opts.catchUpDefault });
  await runScenarios(protocol.name, startRun(), options, {
    latency: { run: latencyScenario(protocol), targets: opts.latencyTargets },
    storm: { run: stormScenario(protocol), targets: opts.stormTargets },
  });
}
