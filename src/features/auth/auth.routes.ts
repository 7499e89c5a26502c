import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { anyRole } from "../../http/route-config.js";
import { sessionCookie } from "../../http/session-cookie.js";
import { AppError } from "../../errors.js";
import { userView } from "../users/users.schema.js";
import type { AuthService } from "./auth.service.js";

export interface AuthRouteOptions {
  cookieSecure: boolean;
  loginRateLimitPerMinute: number;
}

export function authRoutes(auth: AuthService, opts: AuthRouteOptions): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/api/v1/auth/login",
      {
        config: {
          access: "public",
          rateLimit: {
            max: opts.loginRateLimitPerMinute,
            timeWindow: 60_000,
            hook: "preHandler",
            // per address and username: one attacker cannot lock everybody out, nor guess one password fast
            keyGenerator: (req) => {
              const username = (req.body as { username?: unknown } | undefined)?.username;
              return `${req.ip}|${typeof username === "string" ? username : ""}`;
            },
            errorResponseBuilder: (_req, ctx) => ({
              statusCode: 429,
              message: `Too many sign-in attempts; try again in ${Math.ceil(ctx.ttl / 1000)} seconds.`,
            }),
          },
        },
        schema: {
          tags: ["auth"],
          summary: "Sign in",
          // bounded before argon2 hashes it: a long password costs the server, not the caller
          body: z.object({
            username: z.string().min(1, "Enter a username").max(320, "A username has at most 320 characters"),
            password: z.string().min(1, "Enter a password").max(256, "A password has at most 256 characters"),
          }),
          response: { 200: z.object({ token: z.string(), user: userView.pick({ id: true, username: true, role: true }) }) },
        },
      },
      async (req, reply) => {
        const { token, user, expiresAt } = await auth.login(req.body.username, req.body.password);
        void reply.setCookie(sessionCookie, token, {
          httpOnly: true,
          sameSite: "strict",
          secure: opts.cookieSecure,
          path: "/",
          expires: expiresAt,
        });
        return { token, user: { id: user.id, username: user.username, role: user.role } };
      },
    );

    app.post(
      "/api/v1/auth/logout",
      { config: { access: anyRole }, schema: { tags: ["auth"], summary: "Sign out this session" } },
      async (req, reply) => {
        if (!req.principal) throw new AppError("unauthenticated", "Sign in first.");
        await auth.logout(req.principal.sessionHash);
        void reply.clearCookie(sessionCookie, { path: "/" });
        return reply.status(204).send();
      },
    );

    app.get(
      "/api/v1/me",
      {
        config: { access: anyRole },
        schema: { tags: ["auth"], summary: "Who is signed in", response: { 200: userView.pick({ id: true, username: true, role: true }) } },
      },
      async (req) => {
        const p = req.principal!;
        return { id: p.userId, username: p.username, role: p.role };
      },
    );
  };
}
