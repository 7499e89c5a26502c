import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../errors.js";
import type { Principal, RouteAccess } from "./route-config.js";
import { sessionCookie } from "./session-cookie.js";

/** What access control needs from sign-in: the principal a session token stands for, if any. */
export interface SessionResolver {
  principalFor(token: string): Promise<Principal | null>;
}

/** The session token a request carries: the bearer token, else the session cookie. */
export function tokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith("Bearer ")) return header.slice("Bearer ".length).trim();
  return req.cookies[sessionCookie];
}

/**
 * Authenticates every request and enforces the roles each route declares.
 * A route under /api without `config.access` makes the app refuse to start.
 */
export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess | undefined;
}

export function installAccessControl(app: FastifyInstance, auth: SessionResolver): RouteEntry[] {
  const table: RouteEntry[] = [];
  app.decorateRequest("principal", null);

  app.addHook("onRoute", (route) => {
    const access = route.config?.access;
    if (route.url.startsWith("/api/") && route.url !== "/api/openapi.json" && access === undefined) {
      throw new Error(`Route ${String(route.method)} ${route.url} does not declare who may call it (config.access).`);
    }
    for (const method of [route.method].flat()) {
      if (method !== "HEAD") table.push({ method, url: route.url, access });
    }
  });

  app.addHook("onRequest", async (req) => {
    const access = req.routeOptions.config.access;
    if (access === undefined || access === "public") return;
    const token = tokenOf(req);
    const principal: Principal | null = token ? await auth.principalFor(token) : null;
    if (!principal) throw new AppError("unauthenticated", "Sign in first: send the session cookie or an Authorization: Bearer token.");
    if (!access.includes(principal.role)) {
      throw new AppError("forbidden", `This needs the role ${access.join(" or ")}; you are signed in as ${principal.role}.`);
    }
    req.principal = principal;
  });
  return table;
}
