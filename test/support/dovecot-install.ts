import { ensureDebianPackages } from "./system-packages.js";

/** Dovecot's IMAP and POP3 servers from Debian, installed once per run when missing. */
export function ensureDovecot(): boolean {
  const ok = ensureDebianPackages("/usr/sbin/dovecot", ["dovecot-imapd", "dovecot-pop3d"]);
  return ok && ensureDebianPackages("/usr/lib/dovecot/pop3", ["dovecot-pop3d"]);
}
