import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { FastifyRequest } from "fastify";
import { AppError } from "../../errors.js";
import { adminOrSupervisor, anyRole } from "../../http/route-config.js";
import type { Caller, InteractionWorkService } from "./interaction-work.service.js";
import { historyView, interactionDetail, interactionView, listQuery, queueStatsView, transferBody } from "./interactions.schema.js";
import type { InteractionsService } from "./interactions.service.js";

const idParams = z.object({ id: z.string() });

/** RFC 6266 / 5987: a plain ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

function callerOf(req: FastifyRequest): Caller {
  const p = req.principal;
  if (!p) throw new AppError("unauthenticated", "Sign in first.");
  return { userId: p.userId, username: p.username, role: p.role };
}

export function interactionsRoutes(interactions: InteractionsService, work: InteractionWorkService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/v1/interactions",
      {
        config: { access: anyRole },
        schema: {
          tags: ["interactions"],
          summary: "List interactions, newest first",
          querystring: listQuery,
          response: { 200: z.object({ items: z.array(interactionView), nextCursor: z.string().nullable() }) },
        },
      },
      async (req) => {
        const { limit, cursor, ...filter } = req.query;
        return interactions.list(callerOf(req), filter, limit, cursor);
      },
    );

    app.get(
      "/api/v1/interactions/:id",
      {
        config: { access: anyRole },
        schema: { tags: ["interactions"], summary: "One interaction with its text, sanitized HTML and thread", params: idParams, response: { 200: interactionDetail } },
      },
      async (req) => interactions.detail(callerOf(req), req.params.id),
    );

    app.get(
      "/api/v1/interactions/:id/raw",
      { config: { access: anyRole }, schema: { tags: ["interactions"], summary: "The original message, byte for byte", params: idParams } },
      async (req, reply) => {
        const raw = await interactions.raw(callerOf(req), req.params.id);
        return reply
          .header("content-type", "message/rfc822")
          .header("content-disposition", contentDisposition(`${req.params.id}.eml`))
          .header("x-content-type-options", "nosniff")
          .send(raw);
      },
    );

    app.get(
      "/api/v1/interactions/:id/attachments/:attachmentId",
      {
        config: { access: anyRole },
        schema: { tags: ["interactions"], summary: "An attachment's bytes", params: z.object({ id: z.string(), attachmentId: z.string() }) },
      },
      async (req, reply) => {
        const { meta, data } = await interactions.attachment(callerOf(req), req.params.id, req.params.attachmentId);
        // the content type is the sender's claim: never let a browser sniff or run it on our origin
        return reply
          .header("content-type", /^[\w.+-]+\/[\w.+-]+$/.test(meta.content_type) ? meta.content_type : "application/octet-stream")
          .header("content-disposition", contentDisposition(meta.filename))
          .header("x-content-type-options", "nosniff")
          .header("content-security-policy", "sandbox; default-src 'none'")
          .send(data);
      },
    );

    app.post(
      "/api/v1/interactions/:id/accept",
      {
        config: { access: anyRole },
        schema: {
          tags: ["interactions"],
          summary: "Take a waiting interaction: of two agents accepting at once, one gets it and the other 409 already_assigned",
          params: idParams,
          response: { 200: interactionView },
        },
      },
      async (req) => work.accept(callerOf(req), req.params.id),
    );
    app.post(
      "/api/v1/interactions/accept-next",
      {
        config: { access: anyRole },
        schema: {
          tags: ["interactions"],
          summary: "Take the oldest interaction waiting in your queues; 204 when none waits",
          response: { 200: interactionView, 204: z.null().describe("Nothing waits in your queues") },
        },
      },
      async (req, reply) => {
        const taken = await work.acceptNext(callerOf(req));
        return taken ? taken : reply.status(204).send(null);
      },
    );
    app.post(
      "/api/v1/interactions/:id/transfer",
      {
        config: { access: anyRole },
        schema: {
          tags: ["interactions"],
          summary: "Give the interaction to a queue (it waits there) or to an agent (who holds it)",
          params: idParams,
          body: transferBody,
          response: { 200: interactionView },
        },
      },
      async (req) => work.transfer(callerOf(req), req.params.id, req.body),
    );
    app.post(
      "/api/v1/interactions/:id/done",
      { config: { access: anyRole }, schema: { tags: ["interactions"], summary: "Finish the interaction", params: idParams, response: { 200: interactionView } } },
      async (req) => work.done(callerOf(req), req.params.id),
    );
    app.get(
      "/api/v1/interactions/:id/history",
      {
        config: { access: anyRole },
        schema: { tags: ["interactions"], summary: "What happened to the interaction, oldest first", params: idParams, response: { 200: z.object({ items: z.array(historyView) }) } },
      },
      async (req) => ({ items: await work.history(callerOf(req), req.params.id) }),
    );
    app.get(
      "/api/v1/queues/stats",
      {
        config: { access: adminOrSupervisor },
        schema: { tags: ["queues"], summary: "Per queue: interactions waiting, the oldest one's age, interactions held", response: { 200: z.object({ items: z.array(queueStatsView) }) } },
      },
      async () => ({ items: await work.queueStats() }),
    );
    app.get(
      "/api/v1/me/queues",
      {
        config: { access: anyRole },
        schema: { tags: ["queues"], summary: "The queues you work, with what waits in each (empty: you are in no queue yet)", response: { 200: z.object({ items: z.array(queueStatsView) }) } },
      },
      async (req) => ({ items: await work.queueStatsOf(callerOf(req).userId) }),
    );
  };
}
