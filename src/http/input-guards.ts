import http from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, errorStatus, type ErrorCode } from "../errors.js";

/** The request body limit of every route that does not declare its own (routes taking attachments will). */
export const defaultBodyLimit = 1024 * 1024;

const nulMessage = "NUL characters (\\u0000, %00) are accepted nowhere in Mailroom's API; remove them";

/** The path (`a.b.0`) of the first string or key holding a NUL character, or null. */
export function findNul(value: unknown, at = ""): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? at : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], at ? `${at}.${i}` : String(i));
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      const path = at ? `${at}.${key}` : key;
      if (key.includes("\u0000")) return path;
      const found = findNul(inner, path);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * NUL is refused once for every route, before sign-in and before any route code: PostgreSQL cannot store it
 * in text (it answered 500), and no name, address or search needs it. The address (path and query) is
 * checked as sent, the body once parsed.
 */
export function installInputGuards(app: FastifyInstance): void {
  app.addHook("onRequest", async (req) => {
    if (/%00/i.test(req.url) || req.url.includes("\u0000")) throw new AppError("invalid_input", `${nulMessage} (in the address).`, [{ path: "url", message: nulMessage }]);
  });
  app.addHook("preValidation", async (req) => {
    const at = findNul(req.body);
    if (at !== null) throw new AppError("invalid_input", `${nulMessage} (in ${at || "the body"}).`, [{ path: at || "body", message: nulMessage }]);
  });
}

function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

function sendError(reply: FastifyReply, code: ErrorCode, message: string): void {
  void reply.status(errorStatus[code]).send({ error: { code, message } });
}

/** Errors the router raises before any route or hook runs (bad %-escapes, over-long path segments). */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return sendError(reply, "uri_too_long", "A part of the address is too long; ids in a path are short.");
  if (err.code === "FST_ERR_BAD_URL") return sendError(reply, "invalid_input", "The address has a malformed %-escape; encode it with encodeURIComponent.");
  sendError(reply, "invalid_input", "The request cannot be routed.");
}

/** Malformed HTTP (headers too large, a broken request line): answered on the socket, in the same shape. */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  let status = 400;
  let body = errorBody("invalid_input", "The request is not valid HTTP.");
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    status = 408;
    body = errorBody("request_timeout", "The request took too long to arrive.");
  } else if (err.code === "HPE_HEADER_OVERFLOW") {
    status = 431;
    body = errorBody("headers_too_large", "The request headers are too large.");
  }
  this.log.debug({ err }, "malformed request");
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
