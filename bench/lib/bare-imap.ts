import { ImapFlow } from "imapflow";

/** An imapflow client with nothing of Mailroom's: plain IMAP on 127.0.0.1, no logging, no auto-IDLE. */
export function bareClient(port: number, user: string, pass: string): ImapFlow {
  const client = new ImapFlow({
    host: "127.0.0.1",
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass },
    logger: false,
    disableAutoIdle: true,
  });
  // a failure rejects the pending command; the event needs a listener all the same
  client.on("error", () => {});
  return client;
}

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
