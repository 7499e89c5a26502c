import { randomUUID } from "node:crypto";
import { json, type EmulatorResponse } from "./context.js";

/**
 * Entra's OAuth error body, as its token endpoint sends it
 * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes#handling-error-codes-in-your-application):
 * `error_description` starts with the AADSTS number and ends with the trace and correlation ids and
 * the timestamp, separated by CRLF; MSAL reads `error` (errorCode), `error_codes[0]` (errorNo),
 * `suberror` and `correlation_id`, so all of them must be there.
 */
export interface AadErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
  claims?: string;
}

export interface AadError {
  status: 400 | 401;
  error: string;
  code: number;
  text: string;
  suberror?: string;
  claims?: string;
}

/** Entra's timestamp style in error bodies: "2016-01-09 02:02:12Z". */
export function aadTimestamp(at: Date): string {
  return at.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

/**
 * The reply for an error. `correlationId` is the client's `client-request-id` when it sent one: Entra
 * echoes it, and MSAL puts it on the error it throws.
 */
export function aadErrorResponse(e: AadError, opts: { baseUrl: string; now: Date; correlationId?: string | undefined }): EmulatorResponse {
  const traceId = randomUUID();
  const correlationId = opts.correlationId ?? randomUUID();
  const timestamp = aadTimestamp(opts.now);
  const body: AadErrorBody = {
    error: e.error,
    error_description: `AADSTS${e.code}: ${e.text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [e.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    // Entra points at its own error lookup page; the emulator's host has none, but the shape stays
    error_uri: `${opts.baseUrl}/error?code=${e.code}`,
    ...(e.suberror === undefined ? {} : { suberror: e.suberror }),
    ...(e.claims === undefined ? {} : { claims: e.claims }),
  };
  return json(e.status, body, { "x-ms-request-id": traceId, "client-request-id": correlationId, "cache-control": "no-store, no-cache" });
}

/*
 * The messages are Microsoft's wording as its service sends them (checked against replies quoted in
 * public issue threads and https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
 */

export const aad = {
  missingParameter: (name: string): AadError => ({
    status: 400,
    error: "invalid_request",
    code: 900144,
    text: `The request body must contain the following parameter: '${name}'.`,
  }),
  unsupportedGrant: (grant: string): AadError => ({
    status: 400,
    error: "unsupported_grant_type",
    code: 70003,
    text: `The app requested an unsupported grant type '${grant}'.`,
  }),
  tenantNotFound: (tenant: string, error = "invalid_request"): AadError => ({
    status: 400,
    error,
    code: 90002,
    text: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  }),
  applicationNotFound: (clientId: string, directory: string): AadError => ({
    status: 400,
    error: "unauthorized_client",
    code: 700016,
    text: `Application with identifier '${clientId}' was not found in the directory '${directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  }),
  secretMissing: (): AadError => ({
    status: 401,
    error: "invalid_client",
    code: 7000218,
    text: `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`,
  }),
  secretInvalid: (clientId: string): AadError => ({
    status: 401,
    error: "invalid_client",
    code: 7000215,
    text: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  }),
  secretExpired: (clientId: string): AadError => ({
    status: 401,
    error: "invalid_client",
    code: 7000222,
    text: `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
  }),
  // Entra marks this one with the consent_required suberror (MSAL then throws InteractionRequiredAuthError)
  consentMissing: (clientId: string): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 65001,
    suberror: "consent_required",
    text: `The user or administrator has not consented to use the application with ID '${clientId}' named '${clientId}'. Send an interactive authorization request for this user and resource.`,
  }),
  mfaRequired: (resource: string): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 50076,
    suberror: "basic_action",
    // the password grant cannot answer a claims challenge; Entra sends one all the same
    claims: JSON.stringify({ access_token: { capolids: { essential: true, values: [randomUUID()] } } }),
    text: `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resource}'.`,
  }),
  accountLocked: (): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 50053,
    text: `You've tried to sign in too many times with an incorrect user ID or password.`,
  }),
  badCredentials: (): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 50126,
    text: `Error validating credentials due to invalid username or password.`,
  }),
  scopeNotValid: (scope: string): AadError => ({
    status: 400,
    error: "invalid_scope",
    code: 70011,
    text: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
  }),
  clientCredentialsScope: (scope: string): AadError => ({
    status: 400,
    error: "invalid_scope",
    code: 1002012,
    text: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
  }),
  severalResources: (scope: string): AadError => ({
    status: 400,
    error: "invalid_scope",
    code: 28000,
    text: `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
  }),
  resourceNotFound: (resource: string, tenantName: string): AadError => ({
    status: 400,
    error: "invalid_resource",
    code: 500011,
    text: `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
  }),
  refreshTokenMalformed: (): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 9002313,
    text: `Invalid request. Request is malformed or invalid.`,
  }),
  refreshTokenOtherClient: (): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 70000,
    text: `Provided grant is invalid or malformed.`,
  }),
  refreshTokenExpired: (issuedAt: Date, inactive: string): AadError => ({
    status: 400,
    error: "invalid_grant",
    code: 700082,
    text: `The refresh token has expired due to inactivity. The token was issued on ${issuedAt.toISOString()} and was inactive for ${inactive}.`,
  }),
};
