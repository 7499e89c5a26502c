import type { BareWatcher } from "../lib/notifying-child.js";
import type { Cleanup } from "../lib/processes.js";
import type { MicrosoftEmulator } from "./emulator.js";

/** What the latency scenario's report says of the protocol's side of it. */
export interface LatencyWords {
  /** what the emulator does between storing a delivered message and telling a subscriber */
  t0: string;
  /** how the baseline's bare client hears of new mail */
  baseline: string;
  /** what the report calls that client */
  bareName: string;
  /** what Mailroom does between the notification and the event: its own share */
  mailroomShare: string;
}

/**
 * What differs between Mailroom's Microsoft connectors in the benchmarks that drive them against the
 * emulator: how a mailbox of the kind is made and when it is ready, what wakes it, how a bare client
 * hears of new mail, and how the emulator is told to throttle it. The scenarios are the same.
 */
export interface MicrosoftProtocol {
  /** "graph" or "ews": the emulator's request kind (stats, fault switches), and the tag of users, messages and mailbox names */
  name: "graph" | "ews";
  /** what progress lines call its requests */
  label: string;
  /** the password the emulator's users get (EWS signs in with it); undefined: none (Graph reads with client credentials) */
  password: string | undefined;
  /** Mailroom's environment beyond the data dir and the trusted CA: its port, and the periodic sync that covers missed news */
  env(port: number, catchUpSeconds: number): Record<string, string>;
  /** the environment variable that catchUpSeconds sets, for the reports */
  catchUpVariable: string;
  /** the POST /api/v1/mailboxes fields of an inbound mailbox of this kind for `user`, besides clientType, name, host, port and security */
  mailboxFields(emulator: MicrosoftEmulator, user: string): Record<string, unknown>;
  /** the id of the subscription Mailroom (at `base`) holds for `user` at the emulator, once it holds one */
  subscription(emulator: MicrosoftEmulator, user: string, base: string): Promise<string | undefined>;
  startBare(cleanup: Cleanup, emulator: MicrosoftEmulator): Promise<BareWatcher>;
  /** the latency scenario's periodic sync (far away, so that only push drives the mailbox) and its report's words */
  latency: { catchUpSeconds: number } & LatencyWords;
  /** what a throttled request is answered in the storm, in words of retryAfterSeconds (the fault switch's) */
  stormAnswer: string;
}
