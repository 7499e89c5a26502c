import { Fanout } from "./fanout.js";

/** What the UI hears about: new interactions and mailbox status changes. */
export type MailroomEvent =
  | { type: "interaction.created"; mailboxId: string; interactionIds: string[] }
  | { type: "mailbox.status"; mailboxId: string; state: string; code: string | null; message: string | null };

/** Events to the open event streams of this node; a broken stream never stops mail from flowing. */
export class EventBus extends Fanout<MailroomEvent> {}
