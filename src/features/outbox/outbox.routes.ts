import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { AppError } from "../../errors.js";
import { anyRole } from "../../http/route-config.js";
import { idParams } from "../../http/schema-helpers.js";
import type { AuthService } from "../auth/auth.service.js";
import { forwardBody, newEmailBody, outboundAccepted, outboundView, replyBody } from "./outbox.schema.js";
import type { OutboxService, Sender } from "./outbox.service.js";

/** An email with attachments travels as base64 JSON: 25 MB of attachments, a third more as base64. */
const sendBodyLimit = 36 * 1024 * 1024;

export function outboxRoutes(outbox: OutboxService, auth: AuthService): FastifyPluginAsyncZod {
  const senderOf = async (req: FastifyRequest): Promise<Sender> => {
    const p = req.principal;
    if (!p) throw new AppError("unauthenticated", "Sign in first.");
    return { userId: p.userId, role: p.role, fromAddresses: await auth.sessionFromAddresses(p.sessionHash) };
  };
  return async (app) => {
    const config = { access: anyRole };
    app.post(
      "/api/v1/interactions/:id/reply",
      {
        config,
        bodyLimit: sendBodyLimit,
        schema: {
          tags: ["outbound"],
          summary: "Reply (or reply all with all: true) from one of your From addresses; sent through the outbox",
          params: idParams,
          body: replyBody,
          response: { 202: outboundAccepted },
        },
      },
      async (req, reply) => reply.status(202).send(await outbox.reply(await senderOf(req), req.params.id, req.body)),
    );
    app.post(
      "/api/v1/interactions/:id/forward",
      {
        config,
        bodyLimit: sendBodyLimit,
        schema: { tags: ["outbound"], summary: "Forward the interaction's email with its attachments", params: idParams, body: forwardBody, response: { 202: outboundAccepted } },
      },
      async (req, reply) => reply.status(202).send(await outbox.forward(await senderOf(req), req.params.id, req.body)),
    );
    app.post(
      "/api/v1/outbound",
      {
        config,
        bodyLimit: sendBodyLimit,
        schema: { tags: ["outbound"], summary: "Send a new email from one of your From addresses", body: newEmailBody, response: { 202: outboundAccepted } },
      },
      async (req, reply) => reply.status(202).send(await outbox.newEmail(await senderOf(req), req.body)),
    );
    app.get(
      "/api/v1/outbound/:id",
      { config, schema: { tags: ["outbound"], summary: "How the sending of an email goes", params: idParams, response: { 200: outboundView } } },
      async (req) => {
        const p = req.principal;
        if (!p) throw new AppError("unauthenticated", "Sign in first.");
        return outbox.view({ userId: p.userId, role: p.role }, req.params.id);
      },
    );
  };
}
