import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

/** What receives Graph's notifications: GraphNotificationHub. */
export interface NotificationReceiver {
  changes(body: unknown): { woke: number; ignored: number };
  lifecycle(body: unknown): { woke: number; ignored: number };
}

const validationQuery = z.object({ validationToken: z.string().max(4096).optional() });

/**
 * Where Microsoft Graph posts change and lifecycle notifications (MAILROOM_PUBLIC_URL + these paths).
 * Public: Graph signs in as no one. A notification counts only with a subscription this node holds and
 * its secret clientState; it wakes that mailbox's runner and nothing else, and the answer goes back at
 * once (Graph wants one within 3 s, https://learn.microsoft.com/graph/change-notifications-delivery-webhooks).
 */
export function graphWebhookRoutes(receiver: NotificationReceiver): FastifyPluginAsyncZod {
  return async (app) => {
    for (const [path, handle] of [
      ["/api/v1/graph/notifications", (body: unknown) => receiver.changes(body)],
      ["/api/v1/graph/lifecycle", (body: unknown) => receiver.lifecycle(body)],
    ] as const) {
      app.post(
        path,
        {
          config: { access: "public" },
          schema: { hide: true, querystring: validationQuery },
        },
        async (req, reply) => {
          // the validation handshake when a subscription is created: echo the token as plain text
          if (req.query.validationToken !== undefined) return reply.status(200).type("text/plain; charset=utf-8").send(req.query.validationToken);
          const outcome = handle(req.body);
          if (outcome.ignored > 0) req.log.warn({ ignored: outcome.ignored }, "Graph notifications with an unknown subscription or a wrong clientState were ignored");
          return reply.status(202).send();
        },
      );
    }
  };
}
