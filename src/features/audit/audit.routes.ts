import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly } from "../../http/route-config.js";
import type { AuditService } from "./audit.service.js";

const auditEntry = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.object({ id: z.string().nullable(), username: z.string() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string().nullable() }),
  changes: z.unknown(),
});

export function auditRoutes(audit: AuditService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/v1/audit",
      {
        config: { access: adminOnly },
        schema: {
          tags: ["audit"],
          summary: "Who changed what, newest first",
          querystring: z.object({
            limit: z.coerce.number().int().min(1, "limit must be 1..500").max(500, "limit must be 1..500").default(100),
            cursor: z.string().optional(),
          }),
          response: { 200: z.object({ items: z.array(auditEntry), nextCursor: z.string().nullable() }) },
        },
      },
      async (req) => audit.list(req.query.limit, req.query.cursor),
    );
  };
}
