import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly } from "../../http/route-config.js";
import { idParams } from "../../http/schema-helpers.js";
import { actorOf } from "../auth/auth.service.js";
import { createMailboxBody, listMailboxesQuery, mailboxView, patchMailboxBody, testResultView } from "./mailboxes.schema.js";
import type { MailboxesService } from "./mailboxes.service.js";

export function mailboxesRoutes(mailboxes: MailboxesService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ["mailboxes"];
    app.get(
      "/api/v1/mailboxes",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "List mailboxes",
          description: "`q` searches name, mailbox (login) and host, ignoring case.",
          querystring: listMailboxesQuery,
          response: { 200: z.object({ items: z.array(mailboxView) }) },
        },
      },
      async (req) => ({ items: await mailboxes.list(req.query) }),
    );
    app.post(
      "/api/v1/mailboxes",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Create a mailbox (disabled until an enabled application lists it)",
          body: createMailboxBody,
          response: { 201: mailboxView },
        },
      },
      async (req, reply) => reply.status(201).send(await mailboxes.create(actorOf(req), req.body)),
    );
    app.get(
      "/api/v1/mailboxes/:id",
      { config: { access: adminOnly }, schema: { tags, summary: "One mailbox", params: idParams, response: { 200: mailboxView } } },
      async (req) => mailboxes.get(req.params.id),
    );
    app.patch(
      "/api/v1/mailboxes/:id",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Change a mailbox",
          description:
            "Name and client type cannot change. Changing host, port, mailbox or type needs the password in the same request; " +
            "`auth` is replaced as a whole.",
          params: idParams,
          body: patchMailboxBody,
          response: { 200: mailboxView },
        },
      },
      async (req) => mailboxes.update(actorOf(req), req.params.id, req.body),
    );
    app.delete(
      "/api/v1/mailboxes/:id",
      { config: { access: adminOnly }, schema: { tags, summary: "Delete a disabled mailbox", params: idParams } },
      async (req, reply) => {
        await mailboxes.remove(actorOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
    app.delete(
      "/api/v1/mailboxes/:id/warnings",
      {
        config: { access: adminOnly },
        schema: { tags, summary: "Clear the mailbox's warnings once they have been dealt with", params: idParams },
      },
      async (req, reply) => {
        await mailboxes.clearWarnings(actorOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
    app.post(
      "/api/v1/mailboxes/:id/test",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Test the connection: connect, sign in, open the folder; changes no mail",
          params: idParams,
          response: { 200: testResultView },
        },
      },
      async (req) => mailboxes.test(req.params.id),
    );
  };
}
