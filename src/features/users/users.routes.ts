import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly, anyRole } from "../../http/route-config.js";
import { idParams } from "../../http/schema-helpers.js";
import { AppError } from "../../errors.js";
import { actorOf } from "../auth/auth.service.js";
import { availabilityBody, availabilityView, changeOwnPasswordBody, createUserBody, patchUserBody, setPasswordBody, userView } from "./users.schema.js";
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
    app.patch(
      "/api/v1/users/:id",
      {
        config: { access: adminOnly },
        schema: {
          tags: ["users"],
          summary: "Change a user's role or display name, or disable them (which ends their sessions)",
          params: idParams,
          body: patchUserBody,
          response: { 200: userView },
        },
      },
      async (req) => users.update(actorOf(req), req.params.id, req.body),
    );
    app.post(
      "/api/v1/users/:id/password",
      {
        config: { access: adminOnly },
        schema: {
          tags: ["users"],
          summary: "Set a user's password (ends their sessions)",
          params: idParams,
          body: setPasswordBody,
          response: { 204: z.null().describe("The password is set") },
        },
      },
      async (req, reply) => {
        await users.resetPassword(actorOf(req), req.params.id, req.body.password);
        return reply.status(204).send(null);
      },
    );
    app.get(
      "/api/v1/me/availability",
      { config: { access: anyRole }, schema: { tags: ["users"], summary: "Whether you take offered work now, and up to how many interactions", response: { 200: availabilityView } } },
      async (req) => {
        const p = req.principal;
        if (!p) throw new AppError("unauthenticated", "Sign in first.");
        return users.availability(p.userId);
      },
    );
    app.put(
      "/api/v1/me/availability",
      {
        config: { access: anyRole },
        schema: {
          tags: ["users"],
          summary: "Take work now, or stop: while available, interactions of your queues are offered to you up to your capacity",
          body: availabilityBody,
          response: { 200: availabilityView },
        },
      },
      async (req) => {
        const p = req.principal;
        if (!p) throw new AppError("unauthenticated", "Sign in first.");
        return users.setAvailability(p.userId, req.body.available);
      },
    );
    app.post(
      "/api/v1/me/password",
      {
        config: { access: anyRole },
        schema: {
          tags: ["users"],
          summary: "Change your own password (ends your other sessions)",
          body: changeOwnPasswordBody,
          response: { 204: z.null().describe("The password is changed") },
        },
      },
      async (req, reply) => {
        const p = req.principal;
        if (!p) throw new AppError("unauthenticated", "Sign in first.");
        await users.changeOwnPassword({ userId: p.userId, username: p.username }, p.sessionHash, req.body.currentPassword, req.body.newPassword);
        return reply.status(204).send(null);
      },
    );
  };
}
