/** One problem with one field of a request, as the API reports it in `error.details`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** An error answer of the API: `{"error": {code, message, details}}` with its HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: FieldProblem[];

  constructor(status: number, code: string, message: string, details: FieldProblem[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The message the API gave for one field (`path` as in details, e.g. "auth.clientId"), if any. */
  fieldMessage(path: string): string | undefined {
    return this.details.find((d) => d.path === path)?.message;
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when the API answers 401: the session has ended (expired, signed out elsewhere, user disabled). */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

function isErrorBody(body: unknown): body is { error: { code: string; message: string; details?: unknown } } {
  if (typeof body !== "object" || body === null || !("error" in body)) return false;
  const error = body.error;
  return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

function fieldProblems(details: unknown): FieldProblem[] {
  if (!Array.isArray(details)) return [];
  return details.filter(
    (d: unknown): d is FieldProblem =>
      typeof d === "object" && d !== null && typeof (d as FieldProblem).path === "string" && typeof (d as FieldProblem).message === "string",
  );
}

/**
 * Calls the Mailroom API with the session cookie. Resolves with the JSON body (undefined for 204),
 * rejects with an ApiError carrying the API's own words, or, when the server cannot be reached, one
 * that says so.
 */
export async function api<T>(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "unreachable", "Mailroom cannot be reached: check that it is running and your network, then try again.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.ok) return parsed as T;
  if (res.status === 401 && !path.endsWith("/auth/login")) for (const listener of signedOutListeners) listener();
  if (isErrorBody(parsed)) throw new ApiError(res.status, parsed.error.code, parsed.error.message, fieldProblems(parsed.error.details));
  throw new ApiError(res.status, "http_" + res.status, `Mailroom answered ${res.status} ${res.statusText || ""}`.trim() + ".");
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = (path: string) => api<void>("DELETE", path);

/** Builds a query string from the values that are set. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** An error's message for a person, whatever was thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
