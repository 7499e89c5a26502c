import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly, anyRole } from "../../http/route-config.js";
import { actorOf, type AuthService } from "../auth/auth.service.js";
import {
  createFolderBody,
  createValueBody,
  folderParams,
  folderView,
  fromAddressView,
  valueParams,
  valueView,
} from "./from-addresses.schema.js";
import type { FromAddressesService } from "./from-addresses.service.js";

export function fromAddressesRoutes(fromAddresses: FromAddressesService, auth: AuthService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ["from addresses"];
    app.get(
      "/api/v1/business-attributes",
      {
        config: { access: adminOnly },
        schema: { tags, summary: "List business attribute folders", response: { 200: z.object({ items: z.array(folderView) }) } },
      },
      async () => ({ items: await fromAddresses.listFolders() }),
    );
    app.post(
      "/api/v1/business-attributes",
      {
        config: { access: adminOnly },
        schema: { tags, summary: "Create a business attribute folder", body: createFolderBody, response: { 201: folderView } },
      },
      async (req, reply) => reply.status(201).send(await fromAddresses.createFolder(actorOf(req), req.body)),
    );
    app.get(
      "/api/v1/business-attributes/:folderId/values",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "List the From addresses of a folder",
          params: folderParams,
          response: { 200: z.object({ items: z.array(valueView) }) },
        },
      },
      async (req) => ({ items: await fromAddresses.listValues(req.params.folderId) }),
    );
    app.post(
      "/api/v1/business-attributes/:folderId/values",
      {
        config: { access: adminOnly },
        schema: { tags, summary: "Add a From address to a folder", params: folderParams, body: createValueBody, response: { 201: valueView } },
      },
      async (req, reply) => reply.status(201).send(await fromAddresses.addValue(actorOf(req), req.params.folderId, req.body)),
    );
    app.delete(
      "/api/v1/business-attributes/:folderId/values/:valueId",
      { config: { access: adminOnly }, schema: { tags, summary: "Remove a From address", params: valueParams } },
      async (req, reply) => {
        await fromAddresses.deleteValue(actorOf(req), req.params.folderId, req.params.valueId);
        return reply.status(204).send();
      },
    );
    app.get(
      "/api/v1/me/from-addresses",
      {
        config: { access: anyRole },
        schema: {
          tags,
          summary: "The From addresses of this session, as of sign-in",
          description: "Fixed when the session signed in: addresses added later appear after signing in again.",
          response: { 200: z.array(fromAddressView) },
        },
      },
      async (req) => auth.sessionFromAddresses(req.principal!.sessionHash),
    );
  };
}
