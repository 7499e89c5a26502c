import path from "node:path";
import { fileURLToPath } from "node:url";
import { NotifyingChild, type BareWatcher } from "../lib/notifying-child.js";
import type { Cleanup } from "../lib/processes.js";
import type { MicrosoftEmulator } from "../microsoft/emulator.js";

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "bare-receiver-child.ts");

export const bareReceiverMethod =
  "a node:http server in a Node process of its own (bench/graph/bare-receiver-child.ts), subscribed to the user's Inbox like Mailroom; " +
  "a notification counts when its body has been read (CLOCK_MONOTONIC, shared with the benchmark)";

/** The bare receiver process; watching a user is an application's Graph subscription on its Inbox with the receiver as notification URL. */
export async function startBareReceiver(cleanup: Cleanup, emulator: MicrosoftEmulator): Promise<BareWatcher> {
  const { child, ready } = await NotifyingChild.start(cleanup, childScript, "bare receiver");
  const url = `http://127.0.0.1:${Number(ready["port"])}/notify`;
  return child.asWatcher(async (user) => {
    await emulator.subscribe(user, url);
  });
}
