/** Percentiles and summaries for benchmark figures. */

/** The p-th percentile (nearest rank) of xs; NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Rounds to a tenth: sub-millisecond digits are noise at these scales. */
export const round1 = (n: number): number => Math.round(n * 10) / 10;

/** The median of xs (the mean of the two middle values for an even count); NaN for an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(xs: readonly number[]): Summary {
  const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
  return {
    count: xs.length,
    p50: round1(percentile(xs, 50)),
    p90: round1(percentile(xs, 90)),
    p99: round1(percentile(xs, 99)),
    max: round1(xs.length ? Math.max(...xs) : Number.NaN),
    mean: round1(mean),
  };
}
