import type { MicrosoftProtocol } from "../microsoft/protocol.js";
import { bareStreamerMethod, startBareStreamer } from "./bare-streamer.js";

/** every emulator user of the benchmark signs in with it: Mailroom (NTLM, as it prefers) and the bare client (Basic) alike */
const password = "bench-ews-password-1";

/**
 * Mailroom's Exchange Web Services connector as bench:ews drives it: an EWS mailbox signing in with a
 * password over TLS, woken by a streaming subscription (GetStreamingEvents), with the IMAP resync as
 * its periodic SyncFolderItems round; a bare streaming client as the baseline.
 */
export const ewsProtocol: MicrosoftProtocol = {
  name: "ews",
  label: "EWS",
  password,
  env: (_port, catchUpSeconds) => ({ MAILROOM_IMAP_RESYNC_SECONDS: String(catchUpSeconds) }),
  catchUpVariable: "MAILROOM_IMAP_RESYNC_SECONDS",
  mailboxFields: (_emulator, user) => ({ type: "EWS", mailbox: user, password }),
  // only once its GetStreamingEvents request is open does Mailroom hear of new mail without a resync
  subscription: async (emulator, user) => {
    const userId = emulator.userId(user);
    return (await emulator.ewsSubscriptions()).find((s) => s.userId === userId && s.connected)?.id;
  },
  startBare: (cleanup, emulator) => startBareStreamer(cleanup, emulator, password),
  latency: {
    // an hour: only the streaming notifications drive the mailbox, as the project's EWS mailboxes are run
    catchUpSeconds: 3600,
    t0: "the emulator raises NewMailEvent and CreatedEvent as it stores the message and writes them to each open GetStreamingEvents answer of the user's subscriptions on the next turn of its event loop",
    baseline: `the NewMailEvent read by the bare EWS client: ${bareStreamerMethod}`,
    bareName: "EWS client",
    mailroomShare: "ending the stream (its connection goes with it), a new TLS connection signed in with NTLM again, SyncFolderItems, GetItem with the MIME, the commit and the event",
  },
  stormAnswer: "HTTP 500 with a SOAP fault ErrorServerBusy and BackOffMilliseconds = retryAfterSeconds × 1000",
};
