import { MailSourceError, type MailSourceSettings } from "../mail-source.js";
import { networkError } from "../network-errors.js";
import { Pop3CommandError, Pop3ConnectionError, Pop3UnsafeArgumentError } from "./pop3-client.js";
import { Pop3ProtocolError } from "./pop3-response-parser.js";

const loginCommands = new Set(["USER", "PASS", "AUTH"]);

/** Turns what the POP3 client threw into a MailSourceError in words an administrator can act on. */
export function pop3Error(err: unknown, settings: MailSourceSettings): MailSourceError {
  if (err instanceof MailSourceError) return err;
  const where = `${settings.host}:${settings.port}`;
  const options = { cause: err };
  if (err instanceof Pop3CommandError) {
    const words = err.serverText;
    if (err.responseCode === "IN-USE") {
      return new MailSourceError(
        "throttled",
        `The maildrop of ${settings.login} is locked by another POP3 session; Mailroom tries again later: ${words}`,
        words,
        options,
      );
    }
    if (err.responseCode === "SYS/TEMP") {
      return new MailSourceError("protocol_error", `${where} failed temporarily at ${err.command}: ${words}`, words, options);
    }
    if (err.responseCode === "AUTH" || loginCommands.has(err.command)) {
      return new MailSourceError("auth_failed", `The server refused the login for ${settings.login}: ${words}`, words, options);
    }
    if (err.command === "STLS") {
      return new MailSourceError("tls_error", `${where} does not offer STARTTLS (STLS): ${words}`, words, options);
    }
    if (err.command === "UIDL") {
      return new MailSourceError("protocol_error", `${where} does not support UIDL, which Mailroom needs to tell messages apart: ${words}`, words, options);
    }
    return new MailSourceError("protocol_error", `${where} refused ${err.command}: ${words}`, words, options);
  }
  if (err instanceof Pop3UnsafeArgumentError) {
    return new MailSourceError(
      loginCommands.has(err.command) ? "auth_failed" : "protocol_error",
      `Mailroom did not send ${err.command} to ${where}: the mailbox login or password holds a line break or NUL, which the server would read as a command of its own. Type them again.`,
      undefined,
      options,
    );
  }
  if (err instanceof Pop3ConnectionError) {
    if (err.code === "ECLOSED") return new MailSourceError("closed", `The connection to ${where} was closed.`, undefined, options);
    if (err.code === "UPGRADE_TIMEOUT") {
      return new MailSourceError("tls_error", `The TLS handshake with ${where} did not finish within ${settings.connectTimeoutMs} ms.`, undefined, options);
    }
    return new MailSourceError("timeout", `${where} did not answer in time (${err.message}).`, undefined, options);
  }
  if (err instanceof Pop3ProtocolError) {
    const hint = settings.security === "none" || settings.security === "starttls" ? " Is this a TLS-only port?" : "";
    return new MailSourceError("protocol_error", `${where} does not speak POP3 as expected: ${err.message}.${hint}`, undefined, options);
  }
  const network = networkError(err, settings);
  if (network) return network;
  const message = err instanceof Error ? err.message : String(err);
  return new MailSourceError("protocol_error", `POP3 with ${where} failed: ${message}`, undefined, options);
}
