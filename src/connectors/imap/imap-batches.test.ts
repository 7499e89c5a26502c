import { describe, expect, it } from "vitest";
import { chunks, planBatches, uidOfKey, uidSet } from "./imap-batches.js";

const limits = { maxMessageBytes: 1_000, maxCount: 3, maxBytes: 2_500 };
const sized = (...pairs: [number, number][]) => pairs.map(([uid, size]) => ({ uid, size }));

describe("planBatches", () => {
  it("cuts batches by count and by bytes, and fetches oversize messages as headers only", () => {
    const batches = planBatches(sized([1, 100], [2, 100], [3, 100], [4, 100], [5, 900], [6, 5_000], [7, 900], [8, 900], [9, 900]), limits, 9);
    expect(batches.map((b) => [b.full, b.headersOnly])).toEqual([
      [[1, 2, 3], []],
      [[4, 5], [6]],
      [[7, 8], []],
      [[9], []],
    ]);
  });

  it("moves each batch's cursor up to just below the next batch, and the last one to the scan top", () => {
    // UIDs 2, 4 and 6 were not wanted (already read on an "unseen" first import)
    const batches = planBatches(sized([1, 10], [3, 10], [5, 10], [7, 10]), { ...limits, maxCount: 2 }, 9);
    expect(batches.map((b) => b.cursorUid)).toEqual([4, 9]);
  });

  it("never moves the cursor below the highest UID taken", () => {
    const [batch] = planBatches(sized([5, 10]), limits, 3);
    expect(batch?.cursorUid).toBe(5);
  });

  it("sorts its input and plans nothing for nothing", () => {
    expect(planBatches([], limits, 10)).toEqual([]);
    expect(planBatches(sized([3, 1], [1, 1]), limits, 3)[0]?.full).toEqual([1, 3]);
  });

  it("lets a message larger than a batch go alone", () => {
    const batches = planBatches(sized([1, 10], [2, 999], [3, 10]), { maxMessageBytes: 1_000, maxCount: 10, maxBytes: 500 }, 3);
    expect(batches.map((b) => b.full)).toEqual([[1], [2], [3]]);
  });
});

describe("uidSet", () => {
  it("compresses runs", () => {
    expect(uidSet([1, 2, 3, 5, 7, 8, 9, 12])).toBe("1:3,5,7:9,12");
    expect(uidSet([9, 3, 3, 4])).toBe("3:4,9");
    expect(uidSet([42])).toBe("42");
  });
});

describe("source keys", () => {
  it("reads the UID of a key of the current UIDVALIDITY only", () => {
    expect(uidOfKey("1795:42", "1795")).toBe(42);
    expect(uidOfKey("1794:42", "1795")).toBeNull();
    expect(uidOfKey("17950:42", "1795")).toBeNull();
    expect(uidOfKey("1795:x", "1795")).toBeNull();
  });
});

describe("chunks", () => {
  it("splits into pieces of at most the size", () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
