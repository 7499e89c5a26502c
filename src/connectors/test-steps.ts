import { performance } from "node:perf_hooks";
import type { MailSourceError, TestStep } from "./mail-source.js";

/** Records the steps of a connection test; a failed step ends the test. */
export class TestSteps {
  readonly steps: TestStep[] = [];

  constructor(private readonly toError: (err: unknown) => MailSourceError) {}

  /** Runs one step; returns its value, or null when it failed (recorded with the error in words). */
  async run<T>(step: TestStep["step"], work: () => Promise<{ value: T; message: string }>): Promise<T | null> {
    const started = performance.now();
    try {
      const { value, message } = await work();
      this.steps.push({ step, ok: true, ms: elapsed(started), message });
      return value;
    } catch (err) {
      this.steps.push({ step, ok: false, ms: elapsed(started), message: this.toError(err).message });
      return null;
    }
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
