import { ImapFlow } from "imapflow";

/**
 * An imapflow client with nothing of Mailroom's: plain IMAP on 127.0.0.1, no logging, no auto-IDLE.
 * The test Dovecot uses it to look at mailboxes, the benchmarks as their baseline.
 */
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
