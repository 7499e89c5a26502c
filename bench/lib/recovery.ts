/** How soon Mailroom caught up after a storm: computed from when each message was delivered and shown. */

export interface Recovery {
  /** the largest delivered-minus-committed count sampled (every 100 ms) before the storm: what "caught up" is held to */
  normalLag: number;
  /** storm end → the last message delivered before it committed; null if one never was */
  backlogCommittedMs: number | null;
  /**
   * storm end → the first moment from which the lag stays within normalLag for `sustainSeconds` (or until the
   * observation ends, if later); null if it never did, or a message was never committed
   */
  caughtUpMs: number | null;
  /**
   * storm end → the start of the first run of `sustainSeconds` whole seconds of delivery each of which commits at
   * least what it delivered minus normalLag; null if there was none while messages were still being delivered
   */
  throughputRecoveredMs: number | null;
  /** how long "back to normal" must last to count */
  sustainSeconds: number;
  /** what came after those moments: the largest lag, and the whole seconds that committed less than they delivered minus normalLag */
  afterRecovery: { maxLag: number | null; slowSeconds: number | null };
  /** the largest of the three; null if one of them is null */
  recoveryMs: number | null;
  /** the largest lag (delivered minus committed) sampled during and after the storm */
  maxLag: number;
  /** per whole second from the storm's end while messages were delivered: delivered and committed in it */
  afterStormSeconds: { delivered: number[]; committed: number[] };
  /** per second from the first delivery: delivered and committed in it, and the lag at its end */
  timeline: { stormStartS: number; stormEndS: number; delivered: number[]; committed: number[]; lagAtEnd: number[] };
}

const sampleMs = 100;
const sustainSeconds = 3;

/** How many of the sorted times are at or before t. */
function countUpTo(sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function recovery(input: {
  delivered: readonly { messageId: string; returnedAt: number }[];
  /** when the message was first shown (its interaction.created event), or undefined */
  shownAt: (messageId: string) => number | undefined;
  start: number;
  stormStart: number;
  stormEnd: number;
  /** when the observation stopped */
  end: number;
  /** delivered messages never shown */
  missing: number;
}): Recovery {
  const { delivered, shownAt, start, stormStart, stormEnd, end, missing } = input;
  const deliveredTimes = delivered.map((d) => d.returnedAt).sort((a, b) => a - b);
  const committedTimes = delivered
    .map((d) => shownAt(d.messageId))
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const lag = (t: number) => countUpTo(deliveredTimes, t) - countUpTo(committedTimes, t);
  const lastDelivery = deliveredTimes[deliveredTimes.length - 1] ?? start;

  let normalLag = 1;
  for (let t = start; t <= stormStart; t += sampleMs) normalLag = Math.max(normalLag, lag(t));

  // the storm's backlog
  let backlogCommittedMs: number | null = 0;
  for (const d of delivered) {
    if (d.returnedAt > stormEnd) continue;
    const at = shownAt(d.messageId);
    if (at === undefined) {
      backlogCommittedMs = null;
      break;
    }
    backlogCommittedMs = Math.max(backlogCommittedMs, at - stormEnd);
  }

  // the count caught up, and stayed so for sustainSeconds
  let maxLag = 0;
  const samples: { t: number; lag: number }[] = [];
  for (let t = stormStart; t <= end; t += sampleMs) {
    const l = lag(t);
    maxLag = Math.max(maxLag, l);
    if (t >= stormEnd) samples.push({ t, lag: l });
  }
  // the first sample from which the lag stays within normalLag for sustainSeconds (a window cut short by the end of the observation counts)
  let caughtUpAt: number | null = null;
  for (let i = 0; i < samples.length && caughtUpAt === null; i++) {
    const until = samples[i]!.t + sustainSeconds * 1000;
    let holds = true;
    for (let j = i; j < samples.length && samples[j]!.t <= until && holds; j++) holds = samples[j]!.lag <= normalLag;
    if (holds) caughtUpAt = samples[i]!.t;
  }
  const caughtUpMs = missing > 0 || caughtUpAt === null ? null : caughtUpAt - stormEnd;
  const lagAfter = caughtUpAt === null ? [] : samples.filter((x) => x.t >= (caughtUpAt ?? 0)).map((x) => x.lag);

  // throughput back to the delivery rate
  const afterDelivered: number[] = [];
  const afterCommitted: number[] = [];
  for (let from = stormEnd; from + 1000 <= lastDelivery; from += 1000) {
    afterDelivered.push(countUpTo(deliveredTimes, from + 1000) - countUpTo(deliveredTimes, from));
    afterCommitted.push(countUpTo(committedTimes, from + 1000) - countUpTo(committedTimes, from));
  }
  const good = afterDelivered.map((n, k) => afterCommitted[k]! >= n - normalLag);
  let firstGood: number | null = null;
  for (let k = 0; k + sustainSeconds <= good.length && firstGood === null; k++) if (good.slice(k, k + sustainSeconds).every(Boolean)) firstGood = k;
  const throughputRecoveredMs = firstGood === null ? null : firstGood * 1000;

  const parts = [backlogCommittedMs, caughtUpMs, throughputRecoveredMs];
  const recoveryMs = parts.some((p) => p === null) ? null : Math.round(Math.max(...(parts as number[])));

  const timeline = { stormStartS: Math.round((stormStart - start) / 100) / 10, stormEndS: Math.round((stormEnd - start) / 100) / 10, delivered: [] as number[], committed: [] as number[], lagAtEnd: [] as number[] };
  for (let from = start; from < end; from += 1000) {
    timeline.delivered.push(countUpTo(deliveredTimes, from + 1000) - countUpTo(deliveredTimes, from));
    timeline.committed.push(countUpTo(committedTimes, from + 1000) - countUpTo(committedTimes, from));
    timeline.lagAtEnd.push(lag(from + 1000));
  }

  return {
    normalLag,
    backlogCommittedMs: backlogCommittedMs === null ? null : Math.round(backlogCommittedMs),
    caughtUpMs: caughtUpMs === null ? null : Math.round(caughtUpMs),
    throughputRecoveredMs,
    sustainSeconds,
    afterRecovery: {
      maxLag: lagAfter.length ? Math.max(...lagAfter) : null,
      slowSeconds: firstGood === null ? null : good.slice(firstGood).filter((g) => !g).length,
    },
    recoveryMs,
    maxLag,
    afterStormSeconds: { delivered: afterDelivered, committed: afterCommitted },
    timeline,
  };
}
