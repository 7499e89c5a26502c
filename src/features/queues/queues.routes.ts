import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOrSupervisor, anyRole } from "../../http/route-config.js";
import { actorOf } from "../auth/auth.service.js";
import { idParams } from "../../http/schema-helpers.js";
import { createQueueBody, queueAgentsBody, queueAgentsView, queueView } from "./queues.schema.js";
import type { QueuesService } from "./queues.service.js";

export function queuesRoutes(queues: QueuesService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/v1/queues",
      {
        // agents see the queues too: they transfer interactions to them
        config: { access: anyRole },
        schema: { tags: ["queues"], summary: "List queues", response: { 200: z.object({ items: z.array(queueView) }) } },
      },
      async () => ({ items: await queues.list() }),
    );
    app.post(
      "/api/v1/queues",
      {
        config: { access: adminOrSupervisor },
        schema: { tags: ["queues"], summary: "Create a queue", body: createQueueBody, response: { 201: queueView } },
      },
      async (req, reply) => reply.status(201).send(await queues.create(actorOf(req), req.body)),
    );
    app.get(
      "/api/v1/queues/:id/agents",
      {
        config: { access: adminOrSupervisor },
        schema: { tags: ["queues"], summary: "The agents who work a queue", params: idParams, response: { 200: queueAgentsView } },
      },
      async (req) => ({ userIds: await queues.agents(req.params.id) }),
    );
    app.put(
      "/api/v1/queues/:id/agents",
      {
        config: { access: adminOrSupervisor },
        schema: { tags: ["queues"], summary: "Set the agents who work a queue", params: idParams, body: queueAgentsBody, response: { 200: queueAgentsView } },
      },
      async (req) => ({ userIds: await queues.setAgents(actorOf(req), req.params.id, req.body.userIds) }),
    );
  };
}
