export { bareClient } from "../../test/support/bare-imap-client.js";

/** Runs `connect(i)` for every i < count with at most `inFlight` at once; returns the wall time in ms. */
export async function connectAll(count: number, inFlight: number, connect: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count) await connect(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return performance.now() - started;
}
