/**
 * Mailroom's Microsoft Graph benchmark, against the Microsoft emulator in this process: change
 * notification → interaction shown on the event stream, against the emulator's own notification delay
 * to a bare receiver measured in the same run; and a storm of 429s with Retry-After, for lost or doubled
 * messages and the time to recover. Prints one JSON document on stdout (progress on stderr); a missed
 * target is a figure, not a failure. See bench/README.md.
 */
import { progress } from "./lib/clock.js";
import { startRun, writeReport } from "./lib/run.js";
import { latencyScenario } from "./graph/latency.js";
import { parseOptions, type Scenario } from "./graph/options.js";
import { stormScenario } from "./graph/storm.js";
import { latencyTargets, stormTargets, type TargetCheck } from "./graph/targets.js";

const options = parseOptions(process.argv.slice(2), process.env);
const run = startRun();
const { cleanup } = run;
const results: Partial<Record<Scenario, unknown>> = {};
const errors: Partial<Record<Scenario, string>> = {};
const targets: TargetCheck[] = [];
const runners = { latency: latencyScenario, storm: stormScenario };
const checks = { latency: latencyTargets, storm: stormTargets } as Record<Scenario, (r: never) => TargetCheck[]>;

for (const scenario of options.scenarios) {
  if (run.interrupted()) break;
  const t0 = Date.now();
  progress(`${scenario}: starting`);
  try {
    const result = await runners[scenario](options, cleanup, () => run.interrupted());
    results[scenario] = { ...result, seconds: Math.round((Date.now() - t0) / 1000) };
    targets.push(...checks[scenario](result as never));
  } catch (err) {
    errors[scenario] = err instanceof Error ? (err.stack ?? err.message) : String(err);
    progress(`${scenario}: broke: ${errors[scenario]}`);
  }
  const leftovers = await cleanup.runAll();
  if (leftovers.length) progress(`cleanup after ${scenario}: ${leftovers.join("; ")}`);
}

writeReport("graph", run, { options, targets, results: { ...results, ...(Object.keys(errors).length ? { errors } : {}) } });
process.exitCode = Object.keys(errors).length ? 1 : 0;
