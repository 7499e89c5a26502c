import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOrSupervisor } from "../../http/route-config.js";
import { idParams } from "../../http/schema-helpers.js";
import { actorOf } from "../auth/auth.service.js";
import { createRouteBody, routeView, routingSettings, routingSettingsBody, updateRouteBody } from "./routing.schema.js";
import type { RoutingService } from "./routing.service.js";

export function routingRoutes(routing: RoutingService): FastifyPluginAsyncZod {
  return async (app) => {
    const config = { access: adminOrSupervisor };
    app.get(
      "/api/v1/routes",
      { config, schema: { tags: ["routing"], summary: "List inbound routes, the first to win first", response: { 200: z.object({ items: z.array(routeView) }) } } },
      async () => ({ items: await routing.list() }),
    );
    app.post(
      "/api/v1/routes",
      { config, schema: { tags: ["routing"], summary: "Route mail to an address or a domain to a queue", body: createRouteBody, response: { 201: routeView } } },
      async (req, reply) => reply.status(201).send(await routing.create(actorOf(req), req.body)),
    );
    app.patch(
      "/api/v1/routes/:id",
      { config, schema: { tags: ["routing"], summary: "Change a route", params: idParams, body: updateRouteBody, response: { 200: routeView } } },
      async (req) => routing.update(actorOf(req), req.params.id, req.body),
    );
    app.delete(
      "/api/v1/routes/:id",
      { config, schema: { tags: ["routing"], summary: "Delete a route", params: idParams } },
      async (req, reply) => {
        await routing.delete(actorOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
    app.get(
      "/api/v1/settings/routing",
      { config, schema: { tags: ["routing"], summary: "Routing settings", response: { 200: routingSettings } } },
      async () => routing.settings(),
    );
    app.put(
      "/api/v1/settings/routing",
      { config, schema: { tags: ["routing"], summary: "Change routing settings (Route to Multiple Destinations)", body: routingSettingsBody, response: { 200: routingSettings } } },
      async (req) => routing.saveSettings(actorOf(req), req.body),
    );
  };
}
