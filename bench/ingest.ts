/**
 * Mailroom's ingestion benchmark: backlog throughput on two corpora, new-mail latency as a user sees it
 * (event stream and API), latency of a quiet mailbox while others drain, and 1,000 mailboxes on one
 * node, each against a bare baseline measured in the same run. Prints one JSON document on stdout
 * (progress on stderr); a missed target is a figure, not a failure. See bench/README.md.
 */
import { progress } from "./lib/clock.js";
import { startRun, writeReport } from "./lib/run.js";
import { backlogScenario } from "./ingest/backlog.js";
import { fairnessScenario } from "./ingest/fairness.js";
import { latencyScenario } from "./ingest/latency.js";
import { parseOptions, type Scenario } from "./ingest/options.js";
import { scaleScenario } from "./ingest/scale.js";
import { backlogTargets, fairnessTargets, latencyTargets, scaleTargets, type TargetCheck } from "./ingest/targets.js";

const options = parseOptions(process.argv.slice(2), process.env);
const run = startRun();
const { cleanup } = run;
const results: Partial<Record<Scenario, unknown>> = {};
const errors: Partial<Record<Scenario, string>> = {};
const targets: TargetCheck[] = [];
const runners = { backlog: backlogScenario, latency: latencyScenario, fairness: fairnessScenario, scale: scaleScenario };
const checks = { backlog: backlogTargets, latency: latencyTargets, fairness: fairnessTargets, scale: scaleTargets } as Record<Scenario, (r: never) => TargetCheck[]>;

for (const scenario of options.scenarios) {
  if (run.interrupted()) break;
  const t0 = Date.now();
  progress(`${scenario}: starting`);
  try {
    const result = await runners[scenario](options, cleanup);
    results[scenario] = { ...result, seconds: Math.round((Date.now() - t0) / 1000) };
    targets.push(...checks[scenario](result as never));
  } catch (err) {
    errors[scenario] = err instanceof Error ? (err.stack ?? err.message) : String(err);
    progress(`${scenario}: broke: ${errors[scenario]}`);
  }
  const leftovers = await cleanup.runAll();
  if (leftovers.length) progress(`cleanup after ${scenario}: ${leftovers.join("; ")}`);
}

writeReport("ingest", run, { options, targets, results: { ...results, ...(Object.keys(errors).length ? { errors } : {}) } });
process.exitCode = Object.keys(errors).length ? 1 : 0;
