import type { Role } from "../../shared/roles.js";
import { isClientEvent, type MailroomEvent } from "../../shared/event-bus.js";

/**
 * What a user of `role` is sent of an event, or null for nothing. Administrators and supervisors see
 * mailboxes (their state and last error) and every queue's work, and get events whole. An agent may
 * read neither mailboxes nor how other queues' work moves: they get no mailbox event, and of the
 * others only the type and ids, which is what their workspace reloads on (an id opens nothing the
 * API would not show them anyway).
 */
export function eventView(event: MailroomEvent, role: Role): Record<string, unknown> | null {
  if (!isClientEvent(event)) return null;
  if (role !== "agent") return event;
  switch (event.type) {
    case "interaction.created":
      return { type: event.type, interactionIds: event.interactionIds };
    case "interaction.updated":
      return { type: event.type, interactionId: event.interactionId };
    case "outbound.updated":
      return { type: event.type, outboundId: event.outboundId, interactionId: event.interactionId };
    case "resync":
      return event;
    case "mailbox.status":
    case "mailboxes.changed":
    case "graph.notifications":
      return null;
  }
}
