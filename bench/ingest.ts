/**
 * Mailroom's ingestion benchmark: backlog throughput on two corpora, new-mail latency as a user sees it
 * (event stream and API), latency of a quiet mailbox while others drain, and 1,000 mailboxes on one
 * node, each against a bare baseline measured in the same run. Prints one JSON document on stdout
 * (progress on stderr); a missed target is a figure, not a failure. See bench/README.md.
 */
import { runScenarios, startRun } from "./lib/run.js";
import { backlogScenario } from "./ingest/backlog.js";
import { fairnessScenario } from "./ingest/fairness.js";
import { latencyScenario } from "./ingest/latency.js";
import { parseOptions } from "./ingest/options.js";
import { scaleScenario } from "./ingest/scale.js";
import { backlogTargets, fairnessTargets, latencyTargets, scaleTargets } from "./ingest/targets.js";

const options = parseOptions(process.argv.slice(2), process.env);
await runScenarios("ingest", startRun(), options, {
  backlog: { run: backlogScenario, targets: backlogTargets },
  latency: { run: latencyScenario, targets: latencyTargets },
  fairness: { run: fairnessScenario, targets: fairnessTargets },
  scale: { run: scaleScenario, targets: scaleTargets },
});
