import fs from "node:fs";
import type { Reporter, TestModule, TestRunEndReason } from "vitest/node";

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Where run-tests.ts wants the counts; without it the reporter prints the final line itself. */
export const countsFileVariable = "TEST_COUNTS_FILE";

export function countsLine({ passed, failed, skipped }: TestCounts): string {
  return `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
}

/**
 * Counts the run for the plain line `N passed, N failed` (and skipped), which CI reads. Whatever made
 * the run fail counts as at least one failure, even where no test failed.
 */
export class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>, reason: TestRunEndReason): void {
    const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
    for (const mod of testModules) {
      let failedHere = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") failedHere++;
        else counts.skipped++;
      }
      // a file that failed to load, has no tests, or whose hooks failed fails without a failed test
      if (failedHere === 0 && mod.state() === "failed") failedHere = 1;
      counts.failed += failedHere;
    }
    counts.failed += unhandledErrors.length;
    // a global setup that threw, or no test files at all, ends the run with no module to blame
    if (reason !== "passed" && counts.failed === 0) counts.failed = 1;

    const file = process.env[countsFileVariable];
    if (file) fs.writeFileSync(file, JSON.stringify(counts));
    else process.stdout.write(`\n${countsLine(counts)}\n`);
  }
}

export { CountReporter as default };
