import { isIP } from "node:net";

/** A mailbox as a message names it: the address, and the display name ("" when none). */
export interface Address {
  address: string;
  name: string;
}

// An unquoted local part (RFC 5322 dot-atom) and a DNS domain with at least one dot: the addresses
// a mail server will accept as a login or a From. Quoted local parts are legal but never seen in practice.
const atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const emailPattern = new RegExp(`^${atom}(?:\\.${atom})*@${label}(?:\\.${label})+$`);
const hostPattern = new RegExp(`^(?=.{1,253}$)${label}(?:\\.${label})*$`);

export function isEmailAddress(text: string): boolean {
  if (text.length > 254) return false;
  const at = text.lastIndexOf("@");
  return at > 0 && at <= 64 && emailPattern.test(text);
}

/** A server name or an IP address, without scheme or port. */
export function isHostName(text: string): boolean {
  return hostPattern.test(text) || isIP(text) !== 0;
}
