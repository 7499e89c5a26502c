import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { countsFileVariable, countsLine, type TestCounts } from "./count-reporter.js";

/**
 * `npm test`: vitest's `all` project, ending with the line `N passed, N failed` (and skipped).
 * Some failures never reach a reporter (a flag vitest rejects, a config that does not load, vitest
 * dying on a signal), so the line is printed here, after vitest exits: the reporter leaves its counts
 * in a file, and an exit code that says failure with no failure counted counts as one.
 * Arguments are vitest's: `npm test -- src/features/auth`.
 */

const require = createRequire(import.meta.url);
const vitestPackage = require.resolve("vitest/package.json");
const vitestBin = path.join(path.dirname(vitestPackage), (JSON.parse(fs.readFileSync(vitestPackage, "utf8")) as { bin: { vitest: string } }).bin.vitest);
const reporter = fileURLToPath(new URL("./count-reporter.ts", import.meta.url));

const countsDir = fs.mkdtempSync(path.join(os.tmpdir(), "mailroom-test-counts-"));
const countsFile = path.join(countsDir, "counts.json");

function recordedCounts(): TestCounts | null {
  try {
    return JSON.parse(fs.readFileSync(countsFile, "utf8")) as TestCounts;
  } catch {
    return null;
  }
}

const vitest = spawn(
  process.execPath,
  [vitestBin, "run", "--project", "all", "--reporter=default", `--reporter=${reporter}`, ...process.argv.slice(2)],
  { stdio: "inherit", env: { ...process.env, [countsFileVariable]: countsFile } },
);

// npm and CI stop a run by signalling this process (package.json `exec`s it because sh would not pass
// the signal on); vitest must hear it to stop its workers and servers
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => vitest.kill(signal));

const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
  vitest.once("error", (error) => resolve({ code: null, signal: null, error }));
  vitest.once("close", (code, signal) => resolve({ code, signal }));
});

const counts = recordedCounts();
fs.rmSync(countsDir, { recursive: true, force: true });

let exitCode = outcome.code ?? (outcome.signal ? 128 + os.constants.signals[outcome.signal] : 1);
const final: TestCounts = counts ?? { passed: 0, failed: 0, skipped: 0 };
if (exitCode !== 0 && final.failed === 0) {
  final.failed = 1;
  const how = outcome.error
    ? `could not start: ${outcome.error.message}`
    : outcome.signal
      ? `was killed by ${outcome.signal}`
      : `exited with code ${exitCode}`;
  process.stderr.write(`\nvitest ${how}${counts ? " with no failed test" : " before reporting any result"}: counted as 1 failed.\n`);
} else if (exitCode === 0 && !counts) {
  final.failed = 1;
  exitCode = 1;
  process.stderr.write("\nvitest exited without reporting any result: counted as 1 failed.\n");
} else if (exitCode === 0 && final.failed > 0) {
  exitCode = 1;
}
process.stdout.write(`\n${countsLine(final)}\n`);
process.exitCode = exitCode;
