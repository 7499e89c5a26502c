import { Fanout } from "./fanout.js";

/** What the UI hears about: new interactions, their changes (accepted, transferred, done), mailbox status changes and mailbox changes. */
export type MailroomEvent =
  | { type: "interaction.created"; mailboxId: string; interactionIds: string[] }
  | { type: "interaction.updated"; interactionId: string; state: string; queueId: string | null; agentId: string | null; action: string }
  | { type: "outbound.updated"; outboundId: string; interactionId: string | null; state: string }
  | { type: "mailbox.status"; mailboxId: string; state: string; code: string | null; message: string | null }
  /** a mailbox was created, changed or deleted, or an application enabled or disabled some: lists of mailboxes are stale */
  | { type: "mailboxes.changed" };

/** Events to the open event streams of this node; a broken stream never stops mail from flowing. */
export class EventBus extends Fanout<MailroomEvent> {}
