import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly } from "../../http/route-config.js";
import { actorOf } from "../auth/auth.service.js";
import { createUserBody, userView } from "./users.schema.js";
import type { UsersService } from "./users.service.js";

export function usersRoutes(users: UsersService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/api/v1/users",
      {
        config: { access: adminOnly },
        schema: { tags: ["users"], summary: "List users", response: { 200: z.object({ items: z.array(userView) }) } },
      },
      async () => ({ items: await users.list() }),
    );
    app.post(
      "/api/v1/users",
      {
        config: { access: adminOnly },
        schema: { tags: ["users"], summary: "Create a user", body: createUserBody, response: { 201: userView } },
      },
      async (req, reply) => reply.status(201).send(await users.create(actorOf(req), req.body)),
    );
  };
}
