import { describe, expect, it } from "vitest";
import { parseMailDate } from "./mail-date.js";

describe("parseMailDate", () => {
  it.each([
    ["Mon, 5 Jan 2026 08:00:00 +0000", "2026-01-05T08:00:00.000Z"],
    ["Mon,  5 Jan 2026 09:00:00 +0100 (CET)", "2026-01-05T08:00:00.000Z"],
    ["5 Jan 2026 08:00 GMT", "2026-01-05T08:00:00.000Z"],
    ["Mon, 5 Jan\r\n 2026 08:00:00 -0500", "2026-01-05T13:00:00.000Z"],
  ])("reads %j", (value, iso) => {
    expect(parseMailDate(value)?.toISOString()).toBe(iso);
  });

  it.each([undefined, "", "garbage", "1", "tomorrow", "Mon, 5 Jan 2026 25:61:00 +0000", "Fri, 1 Jan 10000 00:00:00 +0000"])("refuses %j", (value) => {
    expect(parseMailDate(value)).toBeNull();
  });
});
