import { Fanout } from "./fanout.js";

/** What the UI hears about: new interactions, their changes (accepted, transferred, done) and mailbox status changes. */
export type MailroomEvent =
  | { type: "interaction.created"; mailboxId: string; interactionIds: string[] }
  | { type: "interaction.updated"; interactionId: string; state: string; queueId: string | null; agentId: string | null; action: string }
  | { type: "outbound.updated"; outboundId: string; interactionId: string | null; state: string }
  | { type: "mailbox.status"; mailboxId: string; state: string; code: string | null; message: string | null };

/** Events to the open event streams of this node; a broken stream never stops mail from flowing. */
export class EventBus extends Fanout<MailroomEvent> {}
