/**
 * Mailroom's ingestion benchmark: backlog throughput on two corpora, new-mail latency as a user sees it
 * (event stream and API), latency of a quiet mailbox while others drain, and 1,000 mailboxes on one
 * node, each against a bare baseline measured in the same run. Prints one JSON document on stdout
 * (progress on stderr); a missed target is a figure, not a failure. See bench/README.md.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { progress } from "./lib/clock.js";
import { gitCommit } from "./lib/git-commit.js";
import { Cleanup } from "./lib/processes.js";
import { backlogScenario } from "./ingest/backlog.js";
import { fairnessScenario } from "./ingest/fairness.js";
import { latencyScenario } from "./ingest/latency.js";
import { parseOptions, type Scenario } from "./ingest/options.js";
import { scaleScenario } from "./ingest/scale.js";
import { backlogTargets, fairnessTargets, latencyTargets, scaleTargets, type TargetCheck } from "./ingest/targets.js";

const options = parseOptions(process.argv.slice(2), process.env);
// Mailroom runs as `npm start` runs it, compiled: build what is checked out now (BENCH_FROM_SOURCE=1 runs the sources through tsx)
if (process.env["BENCH_FROM_SOURCE"] !== "1") {
  progress("building dist/ (npm run build)");
  execFileSync("npm", ["run", "-s", "build"], { stdio: ["ignore", "ignore", "inherit"] });
}
const cleanup = new Cleanup();
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping everything this benchmark started`);
    void cleanup.runAll().finally(() => process.exit(130));
  });
}

const started = new Date();
const loadAverageAtStart = os.loadavg();
const results: Partial<Record<Scenario, unknown>> = {};
const errors: Partial<Record<Scenario, string>> = {};
const targets: TargetCheck[] = [];
const runners = { backlog: backlogScenario, latency: latencyScenario, fairness: fairnessScenario, scale: scaleScenario };
const checks = { backlog: backlogTargets, latency: latencyTargets, fairness: fairnessTargets, scale: scaleTargets } as Record<Scenario, (r: never) => TargetCheck[]>;

for (const scenario of options.scenarios) {
  if (interrupted) break;
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

const document = {
  benchmark: "mailroom ingest",
  startedAt: started.toISOString(),
  seconds: Math.round((Date.now() - started.getTime()) / 1000),
  commit: gitCommit(),
  machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, memoryMb: Math.round(os.totalmem() / 1024 / 1024), loadAverageAtStart, loadAverageAtEnd: os.loadavg() },
  options,
  targets: { met: targets.filter((t) => t.met).length, missed: targets.filter((t) => !t.met).length, checks: targets },
  ...results,
  ...(Object.keys(errors).length ? { errors } : {}),
};
/** Indented JSON with each innermost array of numbers on one line, so per-message samples stay readable. */
const text = `${JSON.stringify(document, null, 2).replace(/\[\s*(-?[\d.]+(?:,\s*-?[\d.]+)*)\s*\]/g, (_all, inner: string) => `[${inner.replace(/\s+/g, "")}]`)}\n`;
process.stdout.write(text);
const file = options.out ?? path.join(".bench", `ingest-${started.toISOString().replace(/[:.]/g, "-")}.json`);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, text);
progress(`written to ${file}`);
process.exitCode = Object.keys(errors).length ? 1 : 0;
