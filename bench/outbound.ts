/**
 * Mailroom's outbound benchmark: an outbox of replies drained by Mailroom's sender into an
 * accept-everything SMTP server, against a bare nodemailer pool sending the same messages in the same
 * run, with the API's latency meanwhile. Prints one JSON document on stdout (progress on stderr); a
 * missed target is a figure, not a failure. See bench/README.md.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { progress } from "./lib/clock.js";
import { gitCommit } from "./lib/git-commit.js";
import { Cleanup } from "./lib/processes.js";
import { parseOptions } from "./outbound/options.js";
import { outboundScenario, type OutboundResult } from "./outbound/scenario.js";
import { outboundTargets } from "./outbound/targets.js";

const options = parseOptions(process.argv.slice(2), process.env);
// Mailroom runs as `npm start` runs it, compiled: build what is checked out now (BENCH_FROM_SOURCE=1 runs the sources through tsx)
if (process.env["BENCH_FROM_SOURCE"] !== "1") {
  progress("building dist/ (npm run build)");
  execFileSync("npm", ["run", "-s", "build"], { stdio: ["ignore", "ignore", "inherit"] });
}
const cleanup = new Cleanup();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping everything this benchmark started`);
    void cleanup.runAll().finally(() => process.exit(130));
  });
}

const started = new Date();
const loadAverageAtStart = os.loadavg();
let result: OutboundResult | null = null;
let error: string | null = null;
try {
  result = await outboundScenario(options, cleanup);
} catch (err) {
  error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  progress(`outbound: broke: ${error}`);
}
const leftovers = await cleanup.runAll();
if (leftovers.length) progress(`cleanup: ${leftovers.join("; ")}`);

const targets = result ? outboundTargets(result) : [];
const document = {
  benchmark: "mailroom outbound",
  startedAt: started.toISOString(),
  seconds: Math.round((Date.now() - started.getTime()) / 1000),
  commit: gitCommit(),
  machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, memoryMb: Math.round(os.totalmem() / 1024 / 1024), loadAverageAtStart, loadAverageAtEnd: os.loadavg() },
  options,
  targets: { met: targets.filter((t) => t.met).length, missed: targets.filter((t) => !t.met).length, checks: targets },
  ...(result ? { outbound: result } : {}),
  ...(error ? { errors: { outbound: error } } : {}),
};
/** Indented JSON with each innermost array of numbers on one line, as bench:ingest writes it. */
const text = `${JSON.stringify(document, null, 2).replace(/\[\s*(-?[\d.]+(?:,\s*-?[\d.]+)*)\s*\]/g, (_all, inner: string) => `[${inner.replace(/\s+/g, "")}]`)}\n`;
process.stdout.write(text);
const file = options.out ?? path.join(".bench", `outbound-${started.toISOString().replace(/[:.]/g, "-")}.json`);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, text);
progress(`written to ${file}`);
process.exitCode = error ? 1 : 0;
