import { describe, expect, it } from "vitest";
import { ServerWordsLog } from "./imap-client.js";

describe("imapflow's logger", () => {
  it("wants only warnings and errors, so that imapflow does not turn every response into log text nobody reads", () => {
    const { logger } = new ServerWordsLog();
    expect(["trace", "debug", "info"].map((level) => logger.isLevelEnabled(level))).toEqual([false, false, false]);
    expect(["warn", "error"].map((level) => logger.isLevelEnabled(level))).toEqual([true, true]);
  });
});
