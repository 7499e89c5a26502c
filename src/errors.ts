/** Every error code Mailroom answers with, and the HTTP status it maps to. */
export const errorStatus = {
  invalid_input: 400,
  password_required: 400,
  field_read_only: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  outbound_mailbox_exists: 409,
  mailbox_enabled: 409,
  mailbox_assigned: 409,
  name_taken: 409,
  conflict: 409,
  in_use: 409,
  last_admin: 409,
  route_exists: 409,
  already_assigned: 409,
  not_assigned: 409,
  at_capacity: 409,
  already_oauth: 409,
  not_migrated: 409,
  test_mailbox_required: 409,
  verification_failed: 422,
  request_timeout: 408,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface FieldProblem {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: FieldProblem[] | undefined;

  constructor(code: ErrorCode, message: string, details?: FieldProblem[]) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return errorStatus[this.code];
  }

  static invalid(path: string, message: string): AppError {
    return new AppError("invalid_input", message, [{ path, message }]);
  }

  static notFound(what: string): AppError {
    return new AppError("not_found", `${what} was not found.`);
  }
}
