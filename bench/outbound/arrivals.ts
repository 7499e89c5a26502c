import { round1, summarize, type Summary } from "../lib/stats.js";

export interface ArrivalFigures {
  /** from the start of the clock to the first message at the sink */
  firstMs: number;
  /** messages per second between the 10th and the 90th percentile arrival: the rate once going, without ramp-up and tail */
  steadyMsgPerSec: number;
  /** time between consecutive arrivals at the sink, ms */
  gapMs: Summary;
  /** with a claim batch: the gap between the last message of one claim and the first of the next, and the others */
  batch?: { size: number; boundaryGapMeanMs: number; otherGapMeanMs: number; boundaries: number; timeInBoundaryGapsShare: number };
  /** messages at the sink in each second of the clock */
  perSecond: number[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/**
 * What the sink's arrival times (CLOCK_MONOTONIC ms) say about a sender. With `batch`, arrivals
 * `firstBatch`, `firstBatch + size`, … start a new claim (the rows held at the sink before the clock
 * were the first claim), and the gaps before them are where the sender did something other than send.
 */
export function arrivalFigures(arrivals: number[], startAt: number, batch?: { size: number; firstBatch: number }): ArrivalFigures {
  const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
  const n = arrivals.length;
  const t10 = arrivals[Math.floor(n * 0.1)] ?? 0;
  const t90 = arrivals[Math.max(0, Math.ceil(n * 0.9) - 1)] ?? 0;
  const perSecond: number[] = [];
  for (const t of arrivals) {
    const second = Math.max(0, Math.floor((t - startAt) / 1000));
    while (perSecond.length <= second) perSecond.push(0);
    perSecond[second]!++;
  }
  const figures: ArrivalFigures = {
    firstMs: round1((arrivals[0] ?? startAt) - startAt),
    steadyMsgPerSec: t90 > t10 ? round1(((Math.ceil(n * 0.9) - 1 - Math.floor(n * 0.1)) / (t90 - t10)) * 1000) : Number.NaN,
    gapMs: summarize(gaps),
    perSecond,
  };
  if (batch && gaps.length) {
    // gaps[i] is the time before arrival i + 1
    const isBoundary = (i: number) => i + 1 >= batch.firstBatch && (i + 1 - batch.firstBatch) % batch.size === 0;
    const boundary = gaps.filter((_g, i) => isBoundary(i));
    const other = gaps.filter((_g, i) => !isBoundary(i));
    const total = (arrivals[n - 1] ?? 0) - (arrivals[0] ?? 0);
    figures.batch = {
      size: batch.size,
      boundaryGapMeanMs: round1(mean(boundary)),
      otherGapMeanMs: Math.round(mean(other) * 100) / 100,
      boundaries: boundary.length,
      timeInBoundaryGapsShare: total > 0 ? Math.round((boundary.reduce((a, b) => a + b, 0) / total) * 1000) / 1000 : Number.NaN,
    };
  }
  return figures;
}
