import path from "node:path";
import { fileURLToPath } from "node:url";
import { NotifyingChild, type BareWatcher } from "../lib/notifying-child.js";
import type { Cleanup } from "../lib/processes.js";
import type { MicrosoftEmulator } from "../microsoft/emulator.js";

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "bare-streamer-child.ts");

export const bareStreamerMethod =
  "a Node process of its own (bench/ews/bare-streamer-child.ts) with raw node:https and hand-written SOAP, signing in with Basic: Subscribe (streaming, Inbox, NewMailEvent) " +
  "and one GetStreamingEvents request held open per user; a message counts when the chunk completing the envelope with its NewMailEvent has been read " +
  "(CLOCK_MONOTONIC, shared with the benchmark)";

/**
 * The bare EWS streaming client's process. Watching a user resolves once its GetStreamingEvents answer
 * has begun: from then on no new mail of it goes unheard. `password` is what the emulator's users were
 * given, for Basic sign-in.
 */
export async function startBareStreamer(cleanup: Cleanup, emulator: MicrosoftEmulator, password: string): Promise<BareWatcher> {
  const { child } = await NotifyingChild.start(cleanup, childScript, "bare EWS client");
  return child.asWatcher(async (user) => {
    await child.command({ watch: { url: emulator.ewsUrl, caFile: emulator.caFile, user, password } });
  });
}
