import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { AppError, type FieldProblem } from "../errors.js";

function problemsFromValidation(
  validation: { instancePath: string; message?: string | undefined }[],
  context: string | undefined,
): FieldProblem[] {
  return validation.map((v) => {
    const p = v.instancePath.replace(/^\//, "").replaceAll("/", ".");
    return { path: p || (context ?? "body"), message: v.message ?? "is invalid" };
  });
}

/** The one way errors leave Mailroom: `{error: {code, message, details?}}`, no stack, no secret. */
/**
 * `pages` answers GET and HEAD requests outside /api that no route matched (the web app's pages); it is
 * a not-found handler rather than a wildcard route so that a path under /api that matches no route,
 * or whose id is too long, keeps the API's own answer.
 */
export function installErrorHandler(app: FastifyInstance, pages?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    if (err instanceof AppError) {
      const body: { code: string; message: string; details?: FieldProblem[] } = { code: err.code, message: err.message };
      if (err.details) body.details = err.details;
      return reply.status(err.status).send({ error: body });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const fe = err as FastifyError;
      const details = problemsFromValidation(err.validation, fe.validationContext);
      const message = details.map((d) => `${d.path}: ${d.message}`).join("; ");
      return reply.status(400).send({ error: { code: "invalid_input", message, details } });
    }
    const fe = err as FastifyError;
    if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return reply.status(413).send({ error: { code: "payload_too_large", message: "The request body is too large." } });
    }
    if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      return reply.status(415).send({ error: { code: "unsupported_media_type", message: "Send JSON with Content-Type: application/json." } });
    }
    if (fe.statusCode === 429) {
      return reply.status(429).send({ error: { code: "rate_limited", message: fe.message } });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send({ error: { code: "invalid_input", message: fe.message } });
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ issues: err.cause.issues, url: err.url }, "response did not match its schema");
    } else {
      request.log.error({ err }, "request failed");
    }
    return reply.status(500).send({ error: { code: "internal", message: "Something went wrong on the server; the log has the details." } });
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const isApi = path === "/api" || path.startsWith("/api/");
    if (pages && !isApi && (request.method === "GET" || request.method === "HEAD")) return pages(request, reply);
    return reply.status(404).send({ error: { code: "not_found", message: `No route ${request.method} ${path}.` } });
  });
}
