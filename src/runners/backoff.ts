/**
 * Exponential backoff with jitter: attempt 0 waits about `initialMs`, each further attempt doubles up to
 * `maxMs`, and the wait is drawn from [50%, 100%] of that so that mailboxes failing together (a server
 * restart) do not come back in lockstep.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}
