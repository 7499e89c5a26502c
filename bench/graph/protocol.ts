import type { MicrosoftProtocol } from "../microsoft/protocol.js";
import { bareReceiverMethod, startBareReceiver } from "./bare-receiver.js";

/**
 * Mailroom's Microsoft Graph connector as bench:graph drives it: a GRAPH mailbox reading with client
 * credentials, woken by change notifications to its public URL (loopback http: the emulator, when not
 * strict, posts there), with delta catch-up as the periodic sync; a bare node:http receiver as the baseline.
 */
export const graphProtocol: MicrosoftProtocol = {
  name: "graph",
  label: "Graph",
  password: undefined,
  env: (port, catchUpSeconds) => ({ MAILROOM_PUBLIC_URL: `http://127.0.0.1:${port}`, MAILROOM_GRAPH_CATCHUP_SECONDS: String(catchUpSeconds) }),
  catchUpVariable: "MAILROOM_GRAPH_CATCHUP_SECONDS",
  mailboxFields: (emulator, user) => {
    const ms = emulator.ms;
    return {
      type: "GRAPH",
      mailbox: user,
      auth: { method: "oauth2", grant: "client_credentials", clientId: ms.clientId, directoryId: ms.tenantId, tenantAuthority: ms.authority },
      clientSecret: ms.clientSecret,
    };
  },
  subscription: async (emulator, user, base) => (await emulator.subscriptions()).find((s) => s.resource.includes(user) && s.notificationUrl.startsWith(base))?.id,
  startBare: startBareReceiver,
  latency: {
    // far away: only change notifications drive the mailbox
    catchUpSeconds: 300,
    t0: "the emulator queues the change notification as it stores the message, and sends it 5 ms later, batching as Graph does",
    baseline: `the notification read by the bare receiver: ${bareReceiverMethod}`,
    bareName: "receiver",
    mailroomShare: "the delta query, $value, commit and event after the notification",
  },
  stormAnswer: "429 with Retry-After: retryAfterSeconds",
};
