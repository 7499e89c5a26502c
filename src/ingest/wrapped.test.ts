import { describe, expect, it } from "vitest";
import { formatMegabytes, oversizeText } from "./wrapped.js";

describe("wrapped texts", () => {
  it("states sizes in MB with at most one decimal", () => {
    expect(formatMegabytes(5 * 1024 * 1024)).toBe("5 MB");
    expect(formatMegabytes(7.5 * 1024 * 1024)).toBe("7.5 MB");
    expect(formatMegabytes(20_971_521)).toBe("20 MB");
    expect(formatMegabytes(3000)).toBe("0.1 MB");
  });

  it("says in words that an oversize message was not imported in full", () => {
    const text = oversizeText(23 * 1024 * 1024, 20 * 1024 * 1024, true);
    expect(text).toMatch(/^This message was 23 MB, larger than this mailbox's Max size of 20 MB, so it was not imported in full/);
    expect(text).toContain("original-headers.txt");
  });
});
