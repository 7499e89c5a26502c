import { headerValue, headerValues, type HeaderBlock } from "./header-block.js";

/**
 * Which inbound mail is not a customer writing: automatic replies and automated senders (answering
 * them starts mail loops), bounces (non-delivery reports), and Mailroom's own mail coming back.
 * Signals are the documented ones: RFC 3834 Auto-Submitted, the de-facto Precedence and X-Autoreply
 * headers, the RFC 2369 / RFC 2919 List-* headers of mailing-list mail (RFC 3834 §2: no automatic
 * reply to a list), Exchange's inbox-rule headers and Outlook's subject prefixes, RFC 3464
 * delivery-status reports and the subjects of the common MTAs' non-standard bounces.
 */

export interface Classification {
  autoReply: boolean;
  bounce: boolean;
  loop: boolean;
}

export interface ClassifyInput {
  header: HeaderBlock;
  /** decoded subject */
  subject: string;
  /** normalized From address */
  fromAddress: string;
  ownAddresses: ReadonlySet<string>;
}

// Outlook and Exchange put the reply type in the subject, in the sender's language; a colon follows
const autoReplySubject =
  /^\s*(?:automatic reply|auto[- ]?reply|auto[- ]?response|out of (?:the )?office(?: autoreply| reply)?|autosvar|automatisk svar|automatisch antwoord|automatische antwort|réponse automatique|respuesta automática|resposta automática|risposta automatica|automaattinen vastaus|automatyczna odpowiedź)\s*:/i;

const automatedLocalPart = /^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster)(?:[-_.+].*)?$/i;
const bounceSenderLocalPart = /^(?:mailer[-_.]?daemon|postmaster|microsoftexchange[0-9a-f]*)$/i;
const bounceSubject =
  /^\s*(?:undelivered mail returned to sender|undeliverable\s*:|undelivered mail\b|delivery status notification \((?:failure|delay)\)|mail delivery failed|mail delivery failure|delivery failure|failure notice|returned mail\s*:|delivery has failed|message not delivered|non[- ]?delivery|unzustellbar\s*:|onbestelbaar\s*:|non remis\s*:|no se puede entregar\s*:|olevererbart\s*:)/i;

function localPart(address: string): string {
  const at = address.lastIndexOf("@");
  return at === -1 ? address : address.slice(0, at);
}

function isAutoReply({ header, subject, fromAddress }: ClassifyInput): boolean {
  const autoSubmitted = headerValue(header, "auto-submitted");
  if (autoSubmitted !== undefined && !/^\s*no\s*(?:;|$)/i.test(autoSubmitted)) return true;
  if (headerValues(header, "precedence").some((v) => /^\s*(?:bulk|junk|list|auto_reply)\b/i.test(v))) return true;
  const xAutoreply = headerValue(header, "x-autoreply");
  if (xAutoreply !== undefined && !/^\s*no\s*$/i.test(xAutoreply)) return true;
  if (headerValue(header, "x-autorespond") !== undefined) return true;
  // any List-* field, not a fixed few: RFC 2369 expects more of them over time, and lists that send
  // no Precedence still send these
  if (header.fields.some((f) => f.name.startsWith("list-"))) return true;
  // Exchange sets these on mail its inbox rules generate, which includes Out of Office replies
  if (headerValue(header, "x-ms-exchange-inbox-rules-loop") !== undefined) return true;
  if (headerValue(header, "x-ms-exchange-generated-message-source") !== undefined) return true;
  if (autoReplySubject.test(subject)) return true;
  return automatedLocalPart.test(localPart(fromAddress));
}

function isBounce({ header, subject, fromAddress }: ClassifyInput): boolean {
  const contentType = headerValue(header, "content-type") ?? "";
  if (/^\s*multipart\/report\b/i.test(contentType) && /report-type\s*=\s*"?delivery-status/i.test(contentType)) return true;
  // Exim names the failed recipients in this header on every bounce it sends
  if (headerValue(header, "x-failed-recipients") !== undefined) return true;
  return bounceSenderLocalPart.test(localPart(fromAddress)) && bounceSubject.test(subject);
}

// the contract says lower case; a caller that forgets must not turn a loop into a ping-pong
const loweredSets = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();

function lowered(addresses: ReadonlySet<string>): ReadonlySet<string> {
  let set = loweredSets.get(addresses);
  if (!set) {
    set = new Set([...addresses].map((a) => a.trim().toLowerCase()));
    loweredSets.set(addresses, set);
  }
  return set;
}

export function classify(input: ClassifyInput): Classification {
  const from = input.fromAddress.toLowerCase();
  return {
    autoReply: isAutoReply(input),
    bounce: isBounce(input),
    loop: from !== "" && lowered(input.ownAddresses).has(from),
  };
}
