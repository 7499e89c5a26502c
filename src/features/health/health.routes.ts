import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { sql } from "kysely";
import { AppError } from "../../errors.js";
import { tokenOf, type SessionResolver } from "../../http/access.js";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Registry } from "prom-client";
import type { Db } from "../../db/database.js";

/**
 * Who may read /metrics: a caller with `Authorization: Bearer <MAILROOM_METRICS_TOKEN>`, or a signed-in admin.
 * The scrape token is compared in constant time and is no session: it opens nothing else.
 */
export class MetricsAccess {
  readonly #tokenDigest: Buffer | null;

  constructor(
    scrapeToken: string | undefined,
    private readonly sessions: SessionResolver,
  ) {
    this.#tokenDigest = scrapeToken ? digest(scrapeToken) : null;
  }

  async check(req: FastifyRequest): Promise<void> {
    const token = tokenOf(req);
    if (!token) throw new AppError("unauthenticated", "Send Authorization: Bearer with the MAILROOM_METRICS_TOKEN, or sign in as an admin.");
    if (this.#tokenDigest && timingSafeEqual(digest(token), this.#tokenDigest)) return;
    const principal = await this.sessions.principalFor(token);
    if (!principal) throw new AppError("unauthenticated", "This token is neither the MAILROOM_METRICS_TOKEN nor a session.");
    if (principal.role !== "admin") throw new AppError("forbidden", `Metrics need the MAILROOM_METRICS_TOKEN or the role admin; you are signed in as ${principal.role}.`);
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** This node as /readyz shows it: who it is, and how many mailboxes it runs (holds the leases of). */
export interface NodeReadiness {
  id: string;
  name: string;
  mailboxes: number;
}

export function healthRoutes(db: Db, registry: Registry, metricsAccess: MetricsAccess, node: () => NodeReadiness): FastifyPluginAsyncZod {
  return async (app) => {
    app.get("/healthz", { schema: { hide: true } }, () => ({ ok: true }));
    app.get("/readyz", { schema: { hide: true } }, async (req, reply) => {
      try {
        await sql`select 1`.execute(db.kysely);
        const self = node();
        return { ok: true, node: { ...self, holdsLeases: self.mailboxes > 0 } };
      } catch (err) {
        req.log.warn({ err }, "database did not answer the readiness check");
        return reply.status(503).send({ error: { code: "unavailable", message: "The database does not answer." } });
      }
    });
    // mailbox names and their errors: for a scrape token or an admin, not for anyone who can reach the port
    app.get("/metrics", { schema: { hide: true } }, async (req, reply) => {
      await metricsAccess.check(req);
      return reply.header("content-type", registry.contentType).send(await registry.metrics());
    });
  };
}
