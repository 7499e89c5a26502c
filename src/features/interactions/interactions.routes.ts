import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { anyRole } from "../../http/route-config.js";
import { interactionDetail, interactionView, listQuery } from "./interactions.schema.js";
import type { InteractionsService } from "./interactions.service.js";

const idParams = z.object({ id: z.string() });

/** RFC 6266 / 5987: a plain ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function interactionsRoutes(interactions: InteractionsService): FastifyPluginAsyncZod {
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
        return interactions.list(filter, limit, cursor);
      },
    );

    app.get(
      "/api/v1/interactions/:id",
      {
        config: { access: anyRole },
        schema: { tags: ["interactions"], summary: "One interaction with its text, sanitized HTML and thread", params: idParams, response: { 200: interactionDetail } },
      },
      async (req) => interactions.detail(req.params.id),
    );

    app.get(
      "/api/v1/interactions/:id/raw",
      { config: { access: anyRole }, schema: { tags: ["interactions"], summary: "The original message, byte for byte", params: idParams } },
      async (req, reply) => {
        const raw = await interactions.raw(req.params.id);
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
        const { meta, data } = await interactions.attachment(req.params.id, req.params.attachmentId);
        // the content type is the sender's claim: never let a browser sniff or run it on our origin
        return reply
          .header("content-type", /^[\w.+-]+\/[\w.+-]+$/.test(meta.content_type) ? meta.content_type : "application/octet-stream")
          .header("content-disposition", contentDisposition(meta.filename))
          .header("x-content-type-options", "nosniff")
          .header("content-security-policy", "sandbox; default-src 'none'")
          .send(data);
      },
    );
  };
}
