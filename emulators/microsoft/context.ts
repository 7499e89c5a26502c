import type { EventEmitter } from "node:events";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { EmulatorState } from "./state.js";
import type { TokenSigner } from "./tokens.js";

export interface EmulatorRequest {
  method: string;
  /** the path without the query, percent-decoded per segment by the router */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** the values of a route pattern's :name segments */
  params: Record<string, string>;
  /** the TCP connection it came on: NTLM authenticates a connection, not a request */
  connection: EmulatorConnection;
}

/** One client connection; the same object for every request on it, a new one for a new connection. */
export interface EmulatorConnection {
  readonly id: number;
}

export interface EmulatorResponse {
  status: number;
  /** an array value is sent as that many header lines (WWW-Authenticate offering several schemes) */
  headers?: Record<string, string | string[]>;
  /** an object is sent as JSON; a string or Buffer as it is */
  body?: unknown;
  /**
   * A long-lived response (EWS streaming notifications): called with the response after the status and headers are
   * sent, instead of sending `body`; the handler writes and ends it. Closing the emulator ends it too.
   */
  stream?: (res: ServerResponse) => void;
}

export type Handler = (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT";
  /** segments separated by "/"; ":name" matches one segment, anything else matches exactly (case-insensitive) */
  pattern: string;
  /** which fault switches apply: Graph's, Entra's, EWS's, or none (the emulator's own control routes) */
  kind: "graph" | "token" | "ews" | "control";
  handler: Handler;
}

/** A change to a message, published so that subscriptions can notify. */
export interface MailChange {
  userId: string;
  folder: string;
  messageId: string;
  changeType: "created" | "updated" | "deleted";
}

export interface EmulatorContext {
  state: EmulatorState;
  signer: TokenSigner;
  /** https://127.0.0.1:PORT, no trailing slash */
  url: string;
  /** true: only https notification URLs are accepted, as Graph does */
  strict: boolean;
  changes: EventEmitter<{ change: [MailChange] }>;
  /** trusts the emulator's CA: for the emulator's own outgoing calls (notifications to https URLs) */
  caPem: string;
  /** the answer of a fault switch (POST /_emulator/faults) that fires for this request, or null: for handlers that check late */
  fault(kind: "ews"): EmulatorResponse | null;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): EmulatorResponse {
  return { status, headers: { "content-type": "application/json; charset=utf-8", ...headers }, body };
}

export function readJson(req: EmulatorRequest): unknown {
  if (req.body.length === 0) return undefined;
  return JSON.parse(req.body.toString("utf8")) as unknown;
}

/** A control route's JSON body (an empty one is {}), or the 400 saying what it should have been: `shape`, e.g. "{to, mime}" */
export function controlBody<T>(req: EmulatorRequest, shape: string): { body: T } | { response: EmulatorResponse } {
  try {
    return { body: (readJson(req) ?? {}) as T };
  } catch {
    return { response: json(400, { error: "bad_request", error_description: `The body must be JSON: ${shape}` }) };
  }
}

/** Graph's error body (https://learn.microsoft.com/graph/errors). */
export function graphError(status: number, code: string, message: string, headers: Record<string, string> = {}): EmulatorResponse {
  const date = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const requestId = crypto.randomUUID();
  return json(
    status,
    { error: { code, message, innerError: { date, "request-id": requestId, "client-request-id": requestId } } },
    { "request-id": requestId, ...headers },
  );
}
