import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly } from "../../http/route-config.js";
import { idParams } from "../../http/schema-helpers.js";
import { actorOf } from "../auth/auth.service.js";
import { applicationView, createApplicationBody, patchApplicationBody } from "./applications.schema.js";
import type { ApplicationsService } from "./applications.service.js";

export function applicationsRoutes(applications: ApplicationsService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ["applications"];
    app.get(
      "/api/v1/applications",
      {
        config: { access: adminOnly },
        schema: { tags, summary: "List applications", response: { 200: z.object({ items: z.array(applicationView) }) } },
      },
      async () => ({ items: await applications.list() }),
    );
    app.post(
      "/api/v1/applications",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Create an application (disabled unless enabled: true is sent)",
          description: "An enabled application enables the inbound mailboxes it lists, and the outbound mailbox.",
          body: createApplicationBody,
          response: { 201: applicationView },
        },
      },
      async (req, reply) => reply.status(201).send(await applications.create(actorOf(req), req.body)),
    );
    app.get(
      "/api/v1/applications/:id",
      { config: { access: adminOnly }, schema: { tags, summary: "One application", params: idParams, response: { 200: applicationView } } },
      async (req) => applications.get(req.params.id),
    );
    app.patch(
      "/api/v1/applications/:id",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Change an application",
          description: "`mailboxIds` replaces the list; `autoAcknowledge: null` removes the automatic acknowledgement.",
          params: idParams,
          body: patchApplicationBody,
          response: { 200: applicationView },
        },
      },
      async (req) => applications.update(actorOf(req), req.params.id, req.body),
    );
    app.delete(
      "/api/v1/applications/:id",
      { config: { access: adminOnly }, schema: { tags, summary: "Delete an application (its mailboxes are disabled)", params: idParams } },
      async (req, reply) => {
        await applications.remove(actorOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
  };
}
