import { sql } from "kysely";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Registry } from "prom-client";
import type { Db } from "../../db/database.js";

export function healthRoutes(db: Db, registry: Registry): FastifyPluginAsyncZod {
  return async (app) => {
    app.get("/healthz", { schema: { hide: true } }, () => ({ ok: true }));
    app.get("/readyz", { schema: { hide: true } }, async (req, reply) => {
      try {
        await sql`select 1`.execute(db.kysely);
        return { ok: true };
      } catch (err) {
        req.log.warn({ err }, "database did not answer the readiness check");
        return reply.status(503).send({ error: { code: "unavailable", message: "The database does not answer." } });
      }
    });
    app.get("/metrics", { schema: { hide: true } }, async (_req, reply) =>
      reply.header("content-type", registry.contentType).send(await registry.metrics()),
    );
  };
}
