import { MailSourceError, type MailSourceSettings } from "../mail-source.js";
import { networkError } from "../network-errors.js";

/** The properties imapflow attaches to its errors that say what went wrong (all optional). */
interface ImapFlowErrorLike {
  code?: unknown;
  message?: unknown;
  authenticationFailed?: unknown;
  tlsFailed?: unknown;
  mailboxMissing?: unknown;
  serverResponseCode?: unknown;
  responseText?: unknown;
  response?: unknown;
  reason?: unknown;
}

const timeoutCodes = new Set(["CONNECT_TIMEOUT", "GREETING_TIMEOUT", "UPGRADE_TIMEOUT", "ETIMEOUT"]);
const closedCodes = new Set(["NoConnection", "EConnectionClosed", "StateLogout", "ClosedAfterConnectText"]);

/** The server's words from a failed command: `[CODE] text`, as the server sent them. */
export function serverWords(err: unknown): string | undefined {
  if (!err || typeof err !== "object") return undefined;
  const e = err as ImapFlowErrorLike;
  const text = typeof e.responseText === "string" && e.responseText ? e.responseText : undefined;
  const code = typeof e.serverResponseCode === "string" && e.serverResponseCode ? e.serverResponseCode : undefined;
  if (text) return code && !text.startsWith(`[${code}]`) ? `[${code}] ${text}` : text;
  if (typeof e.response === "string" && e.response) return e.response;
  if (typeof e.reason === "string" && e.reason) return e.reason;
  return code ? `[${code}]` : undefined;
}

/** Turns anything imapflow threw into a MailSourceError in words an administrator can act on. */
export function imapError(err: unknown, settings: MailSourceSettings, folder?: string): MailSourceError {
  if (err instanceof MailSourceError) return err;
  const where = `${settings.host}:${settings.port}`;
  const e = (err && typeof err === "object" ? err : {}) as ImapFlowErrorLike;
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : String(err);
  const said = serverWords(err);
  const options = { cause: err };

  if (e.authenticationFailed === true) {
    const words = said ?? message;
    return new MailSourceError("auth_failed", `The server refused the login for ${settings.login}: ${words}`, words, options);
  }
  const fromNetwork = networkError(err, settings);
  if (fromNetwork) return fromNetwork;
  if (e.tlsFailed === true || code === "ClosedAfterConnectTLS" || code === "STARTTLS_INJECTION") {
    const starttls = settings.security === "starttls";
    return new MailSourceError(
      "tls_error",
      starttls
        ? `STARTTLS with ${where} failed: ${message}. Check that the server offers STARTTLS on this port.`
        : `TLS with ${where} failed: ${message}.`,
      said,
      options,
    );
  }
  if (timeoutCodes.has(code)) {
    const what = code === "GREETING_TIMEOUT" ? "sent no IMAP greeting" : "stopped answering";
    const hint = code === "GREETING_TIMEOUT" && settings.security !== "tls" ? " (a TLS-only port needs the security setting TLS)" : "";
    return new MailSourceError("timeout", `${where} ${what} in time${hint}.`, said, options);
  }
  if (code === "ETHROTTLE") {
    return new MailSourceError("throttled", `${where} asked Mailroom to slow down: ${said ?? message}`, said, options);
  }
  if (e.mailboxMissing === true || code === "NotFound" || said?.includes("[NONEXISTENT]") || said?.includes("[TRYCREATE]")) {
    const name = folder ?? settings.folder;
    return new MailSourceError("folder_missing", `The folder "${name}" does not exist in the mailbox ${settings.login}.`, said, options);
  }
  if (closedCodes.has(code)) {
    const bye = said ? `: ${said}` : ".";
    return new MailSourceError("closed", `The connection to ${where} was closed${bye}`, said, options);
  }
  return new MailSourceError("protocol_error", `${where} answered in a way Mailroom did not expect: ${said ?? message}`, said, options);
}
