import { httpsRequest, trustedCa, type HttpsAnswer } from "../shared/https-request.js";
import { AuthError, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from "@azure/msal-node";

export interface HttpsOptions {
  /** every request to Entra ends after this long: MSAL's own client has no timeout on the token POST */
  timeoutMs: number;
  /** PEM certificates trusted besides Node's own roots (a private CA, the Microsoft emulator's) */
  extraCa: string | null;
}

/**
 * MSAL's network client, ours so that every token request has a deadline and a private CA (the
 * emulator's) can be trusted in this process only. Failures are thrown as MSAL's network_error with
 * our message, which MSAL passes on.
 */
export function msalNetworkClient(options: HttpsOptions): INetworkModule & { lastFailure: string | null } {
  const ca = trustedCa(options.extraCa);
  // MSAL turns a failed metadata request into endpoints_resolution_error without our words: keep them here
  const client = { lastFailure: null as string | null };
  const failed = (message: string) => {
    client.lastFailure = message;
    return new AuthError("network_error", "", message);
  };
  const send = async <T>(method: "GET" | "POST", url: string, request: NetworkRequestOptions | undefined): Promise<NetworkResponse<T>> => {
    let answer: HttpsAnswer;
    try {
      answer = await httpsRequest(url, {
        method,
        headers: request?.headers ?? {},
        ...(request?.body === undefined ? {} : { body: request.body }),
        timeoutMs: options.timeoutMs,
        ca,
      });
    } catch (err) {
      // MSAL replaces an AuthError's message with its own; the suberror reaches the caller as given
      throw failed(`The sign-in service could not be reached: ${err instanceof Error ? err.message : String(err)}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString("utf8"));
    } catch {
      throw failed(`The sign-in service at ${new URL(url).host} answered HTTP ${answer.status} with something that is not JSON`);
    }
    // a refusal of the metadata request (an unknown tenant) becomes MSAL's endpoints_resolution_error without Entra's words
    const description = answer.status >= 400 ? (body as { error_description?: unknown } | null)?.error_description : undefined;
    client.lastFailure = typeof description === "string" ? description : null;
    return { status: answer.status, headers: answer.headers, body: body as T };
  };
  return Object.assign(client, {
    sendGetRequestAsync: <T>(url: string, request?: NetworkRequestOptions) => send<T>("GET", url, request),
    sendPostRequestAsync: <T>(url: string, request?: NetworkRequestOptions) => send<T>("POST", url, request),
  });
}
