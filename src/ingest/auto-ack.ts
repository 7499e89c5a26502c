import type { ParsedMail } from "./types.js";

/**
 * Which stored messages get an automatic acknowledgement. Never one to a message that is itself
 * automatic (an auto-reply or mailing-list mail, a bounce, a loop through our own addresses) or to an
 * address that takes no answers, and at most `perSender` per sender address within `window` ms: two
 * auto-responders answering each other stop after a few rounds (Genesys E-mail Server's "autowar"
 * protection).
 */

export const autoAckLimit = { perSender: 3, windowMs: 10 * 60_000 };

/** Mailboxes that take no answers: no-reply and the mail system's own. */
const noAnswers = /^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer-daemon|postmaster|bounces?)(?:[-+._].*)?@/i;
const plainAddress = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

export interface AutoAckTemplate {
  subject: string;
  text: string;
  /** the outbound mailbox's From address */
  fromAddress: string;
}

/** The address to acknowledge a message to, or null when it gets none. */
export function acknowledgedAddress(mail: Pick<ParsedMail, "from" | "replyTo" | "flags">): string | null {
  if (mail.flags.autoReply || mail.flags.bounce || mail.flags.loop) return null;
  const address = (mail.replyTo[0]?.address || mail.from.address).trim().toLowerCase();
  if (!plainAddress.test(address) || noAnswers.test(address)) return null;
  return address;
}
