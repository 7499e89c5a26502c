import { MailSourceError, type SourceErrorCode } from "../connectors/mail-source.js";

/** What the sign-in service said, as MSAL hands it over (ServerError, AuthError). */
interface MsalErrorLike {
  errorCode?: unknown;
  errorNo?: unknown;
  errorMessage?: unknown;
  subError?: unknown;
  status?: unknown;
  correlationId?: unknown;
  message?: unknown;
}

export interface TokenAccountNames {
  clientId: string;
  directoryId: string;
  username: string;
  grant: "client_credentials" | "password";
}

/** AADSTS numbers (https://learn.microsoft.com/entra/identity-platform/reference-error-codes) → Mailroom's status codes. */
const byAadsts: Record<string, SourceErrorCode> = {
  "7000222": "secret_expired",
  "7000215": "invalid_client",
  "700016": "unauthorized_client",
  "90002": "tenant_not_found",
  "65001": "consent_required",
  "50076": "mfa_required",
  "50079": "mfa_required",
  "50158": "mfa_required",
  "50053": "user_locked",
  "50057": "user_locked",
  "50126": "invalid_credentials",
  "70011": "invalid_scope",
  "1002012": "invalid_scope",
};

/** The first line of an Entra error description: "AADSTS7000222: The provided client secret keys … are expired." */
function aadstsLine(text: string): string {
  // MSAL prefixes Entra's description: "Error(s): 7000222 - Timestamp: … - Description: AADSTS7000222: …"
  const from = text.indexOf("AADSTS");
  const line = text.slice(Math.max(from, 0)).split(/\r?\n/)[0]?.trim() ?? "";
  return line.replace(/\s*Trace ID:.*$/, "").replace(/\s+-\s+Correlation ID:.*$/, "");
}

function advice(code: SourceErrorCode, names: TokenAccountNames): string {
  switch (code) {
    case "secret_expired":
      return `The client secret of the Azure app ${names.clientId} has expired. Create a new secret in Entra ID (App registrations → Certificates & secrets), enter it on this mailbox, and set its expiry date.`;
    case "invalid_client":
      return `Entra ID refused the client secret of the Azure app ${names.clientId}. Enter the secret's value (not its ID) again.`;
    case "unauthorized_client":
      return `The directory ${names.directoryId} has no Azure app with the client ID ${names.clientId}. Check the client ID and directory (tenant) ID.`;
    case "tenant_not_found":
      return `Entra ID knows no directory (tenant) ${names.directoryId}. Check the directory ID and the tenant authority.`;
    case "consent_required":
      return `The Azure app ${names.clientId} lacks admin consent for the permissions this mailbox needs. Grant admin consent in Entra ID (API permissions).`;
    case "mfa_required":
      return `Entra ID asks ${names.username} for multi-factor authentication, which the password grant cannot do. Exclude this account from MFA through Conditional Access, or use client credentials.`;
    case "user_locked":
      return `Entra ID has locked or disabled the account ${names.username}. Unlock it in Entra ID.`;
    case "invalid_credentials":
      return `Entra ID refused the password of ${names.username}. Type the mailbox password again.`;
    case "invalid_scope":
      return `Entra ID refused the permissions Mailroom asked for on behalf of the Azure app ${names.clientId}.`;
    case "throttled":
      return "Entra ID is throttling token requests; Mailroom will try again.";
    case "timeout":
      return "The sign-in service did not answer in time; Mailroom will try again.";
    default:
      return "Mailroom could not get an access token from Entra ID.";
  }
}

/** Turns what MSAL threw into a MailSourceError whose code is the mailbox's status code and whose serverText is Entra's own words. */
export function tokenError(err: unknown, names: TokenAccountNames, networkFailure: string | null = null): MailSourceError {
  if (err instanceof MailSourceError) return err;
  const e = (err && typeof err === "object" ? err : {}) as MsalErrorLike;
  const errorCode = typeof e.errorCode === "string" ? e.errorCode : "";
  // our network client's words travel as the suberror (see network-client.ts)
  const ours =
    errorCode === "network_error" && typeof e.subError === "string" && e.subError !== ""
      ? e.subError
      : errorCode === "network_error" || errorCode === "endpoints_resolution_error"
        ? networkFailure
        : null;
  const errorMessage = ours ?? (typeof e.errorMessage === "string" && e.errorMessage !== "" ? e.errorMessage : typeof e.message === "string" ? e.message : String(err));
  const number = typeof e.errorNo === "string" || typeof e.errorNo === "number" ? String(e.errorNo) : /AADSTS(\d+)/.exec(errorMessage)?.[1];
  const status = typeof e.status === "number" ? e.status : undefined;

  let code: SourceErrorCode = "token_error";
  if (number !== undefined && byAadsts[number]) code = byAadsts[number];
  else if (status === 429 || /throttl/i.test(errorMessage)) code = "throttled";
  else if (errorCode === "network_error" && /did not answer within/.test(errorMessage)) code = "timeout";
  else if (errorCode === "invalid_client") code = "invalid_client";
  else if (errorCode === "network_error" || errorCode === "endpoints_resolution_error") code = "token_unavailable";

  const said = errorMessage.includes("AADSTS") ? aadstsLine(errorMessage) : errorMessage;
  // Entra's refusal of the metadata request (an unknown tenant) reaches us through our network client
  let words = advice(code, names);
  if ((code === "timeout" || code === "token_unavailable") && ours !== null) words = ours;
  else if (code === "token_error" || code === "token_unavailable") words = `${words} ${said}`;
  return new MailSourceError(code, words, said === words ? undefined : said, { cause: err });
}
