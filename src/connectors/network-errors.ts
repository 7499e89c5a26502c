import { MailSourceError, type MailSourceSettings } from "./mail-source.js";

/** Node's codes for a certificate the client would not accept. */
const certificateCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

function errorCode(err: unknown): string {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") return err.code;
  return "";
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Maps what the socket, TLS or DNS layer threw to a MailSourceError, or null when the error did
 * not come from there. Shared by every connector that opens its own connection.
 */
export function networkError(
  err: unknown,
  target: Pick<MailSourceSettings, "host" | "port" | "connectTimeoutMs">,
): MailSourceError | null {
  const code = errorCode(err);
  const where = `${target.host}:${target.port}`;
  const message = errorMessage(err);
  const options = { cause: err };
  if (code === "ECONNREFUSED") {
    return new MailSourceError("connection_refused", `Nothing accepts connections at ${where} (connection refused).`, undefined, options);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_FAIL") {
    return new MailSourceError("dns_error", `The host name ${target.host} could not be resolved (${code}).`, undefined, options);
  }
  if (code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT" || code === "CONNECT_TIMEOUT") {
    return new MailSourceError("timeout", `${where} did not accept a connection within ${target.connectTimeoutMs} ms.`, undefined, options);
  }
  if (certificateCodes.has(code)) {
    return new MailSourceError(
      "tls_error",
      `The certificate of ${where} was not accepted: ${message} (${code}). Allow invalid certificates only for a private server you trust.`,
      undefined,
      options,
    );
  }
  if (code.startsWith("ERR_SSL") || code === "EPROTO" || code.startsWith("ERR_TLS") || /SSL|TLS/.test(code)) {
    const reason = openSslReason(message);
    const plain = /wrong version number|packet length too long|unknown protocol|record layer failure/i.test(reason);
    return new MailSourceError(
      "tls_error",
      plain
        ? `The TLS handshake with ${where} failed: the server does not speak TLS on this port (${reason}). Check the port and the security setting.`
        : `The TLS handshake with ${where} failed: ${reason}.`,
      undefined,
      options,
    );
  }
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED") {
    return new MailSourceError("closed", `The connection to ${where} was cut (${code}).`, undefined, options);
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL") {
    return new MailSourceError("connection_refused", `${where} cannot be reached (${code}).`, undefined, options);
  }
  return null;
}

/** "…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:file:line:" → "wrong version number" */
function openSslReason(message: string): string {
  const parts = message.split(":");
  const routines = parts.findIndex((p) => p.endsWith(" routines"));
  const reason = routines >= 0 ? parts[routines + 2] : undefined;
  return reason?.trim() || message.trim();
}
