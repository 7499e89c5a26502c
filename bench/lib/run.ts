import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { progress } from "./clock.js";
import { gitCommit } from "./git-commit.js";
import { Cleanup } from "./processes.js";

/** One target of a report: what was measured, the bound, the figure, and whether it was met. */
export interface TargetCheck {
  scenario: string;
  what: string;
  target: string;
  /** null in the JSON when there is no figure (e.g. Mailroom never recovered) */
  value: number;
  met: boolean;
}

export const targetCheck = (scenario: string, what: string, target: string, value: number, met: boolean): TargetCheck => ({ scenario, what, target, value, met });

/** What a benchmark's run starts with and its report ends with. */
export interface BenchRun {
  cleanup: Cleanup;
  started: Date;
  loadAverageAtStart: number[];
  /** SIGINT or SIGTERM came: stop starting new work */
  interrupted(): boolean;
}

/**
 * Builds what is checked out now (Mailroom runs as `npm start` runs it, compiled; BENCH_FROM_SOURCE=1
 * runs the sources through tsx) and makes SIGINT/SIGTERM stop everything the benchmark started.
 */
export function startRun(): BenchRun {
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
  return { cleanup, started: new Date(), loadAverageAtStart: os.loadavg(), interrupted: () => interrupted };
}

/**
 * The JSON document of a run on stdout and in `out` (.bench/<name>-<time>.json by default): the machine,
 * the options, the targets met and missed, and the results. Each innermost array of numbers is kept on
 * one line, so per-message samples stay readable.
 */
export function writeReport(
  name: string,
  run: BenchRun,
  report: { options: { out: string | undefined }; targets: { met: boolean }[]; results: Record<string, unknown> },
): void {
  const { targets } = report;
  const document = {
    benchmark: `mailroom ${name}`,
    startedAt: run.started.toISOString(),
    seconds: Math.round((Date.now() - run.started.getTime()) / 1000),
    commit: gitCommit(),
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryMb: Math.round(os.totalmem() / 1024 / 1024),
      loadAverageAtStart: run.loadAverageAtStart,
      loadAverageAtEnd: os.loadavg(),
    },
    options: report.options,
    targets: { met: targets.filter((t) => t.met).length, missed: targets.filter((t) => !t.met).length, checks: targets },
    ...report.results,
  };
  const text = `${JSON.stringify(document, null, 2).replace(/\[\s*(-?[\d.]+(?:,\s*-?[\d.]+)*)\s*\]/g, (_all, inner: string) => `[${inner.replace(/\s+/g, "")}]`)}\n`;
  process.stdout.write(text);
  const file = report.options.out ?? path.join(".bench", `${name}-${run.started.toISOString().replace(/[:.]/g, "-")}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  progress(`written to ${file}`);
}

/** A scenario of a benchmark: how it runs, and which targets its result is held to. */
export interface ScenarioRun<Options> {
  run(options: Options, cleanup: Cleanup, interrupted: () => boolean): Promise<object>;
  targets(result: never): TargetCheck[];
}

/**
 * Runs the chosen scenarios one after another, each cleaned up before the next; a scenario that throws
 * is reported under `errors` and the others still run. Then writes the report (see writeReport) and
 * sets the exit code: 1 when a scenario broke (a missed target is a figure, not a failure).
 */
export async function runScenarios<Name extends string, Options extends { out: string | undefined }>(
  name: string,
  run: BenchRun,
  options: Options & { scenarios: readonly Name[] },
  scenarios: Record<Name, ScenarioRun<Options>>,
): Promise<void> {
  const results: Partial<Record<Name, unknown>> = {};
  const errors: Partial<Record<Name, string>> = {};
  const targets: TargetCheck[] = [];
  for (const scenario of options.scenarios) {
    if (run.interrupted()) break;
    const t0 = Date.now();
    progress(`${scenario}: starting`);
    try {
      const result = await scenarios[scenario].run(options, run.cleanup, () => run.interrupted());
      results[scenario] = { ...result, seconds: Math.round((Date.now() - t0) / 1000) };
      targets.push(...scenarios[scenario].targets(result as never));
    } catch (err) {
      errors[scenario] = err instanceof Error ? (err.stack ?? err.message) : String(err);
      progress(`${scenario}: broke: ${errors[scenario]}`);
    }
    const leftovers = await run.cleanup.runAll();
    if (leftovers.length) progress(`cleanup after ${scenario}: ${leftovers.join("; ")}`);
  }
  writeReport(name, run, { options, targets, results: { ...results, ...(Object.keys(errors).length ? { errors } : {}) } });
  process.exitCode = Object.keys(errors).length ? 1 : 0;
}
