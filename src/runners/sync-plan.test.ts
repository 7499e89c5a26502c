import { describe, expect, it } from "vitest";
import { chunks } from "../shared/chunks.js";
import { planBatches, type PlannedItem } from "./sync-plan.js";

const limits = { maxCount: 3, maxBytes: 2_500 };
const item = (index: number, size: number, extra: Partial<PlannedItem> = {}): PlannedItem => ({
  key: `k${index}`, index, size, headersOnly: size > 1_000, attempts: 0, aside: null, ...extra,
});
const keys = (batches: PlannedItem[][]) => batches.map((b) => b.map((i) => i.index));

describe("planBatches", () => {
  it("cuts batches by count and by bytes; a header-only fetch costs nothing", () => {
    const items = [item(1, 100), item(2, 100), item(3, 100), item(4, 100), item(5, 900), item(6, 5_000), item(7, 900), item(8, 900), item(9, 900)];
    expect(keys(planBatches(items, limits))).toEqual([[1, 2, 3], [4, 5, 6], [7, 8], [9]]);
  });

  it("keeps listing order whatever the input order, and plans nothing for nothing", () => {
    expect(planBatches([], limits)).toEqual([]);
    expect(keys(planBatches([item(3, 1), item(1, 1)], limits))).toEqual([[1, 3]]);
  });

  it("lets a message larger than a batch go alone", () => {
    expect(keys(planBatches([item(1, 10), item(2, 999), item(3, 10)], { maxCount: 10, maxBytes: 500 }))).toEqual([[1], [2], [3]]);
  });

  it("fetches a message whose fetch broke the connection before alone, so that it alone is charged again", () => {
    const items = [item(1, 10), item(2, 10, { attempts: 1 }), item(3, 10), item(4, 10)];
    expect(keys(planBatches(items, limits))).toEqual([[1], [2], [3, 4]]);
  });

  it("carries a message set aside without fetching in its place, costing nothing", () => {
    const items = [item(1, 10), item(2, 900_000, { attempts: 3, aside: "broke the connection 3 times" }), item(3, 10)];
    expect(keys(planBatches(items, limits))).toEqual([[1, 2, 3]]);
  });
});

describe("chunks", () => {
  it("splits into pieces of at most the size", () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
