import type { Role } from "../shared/roles.js";

/**
 * Every route under /api says who may call it: a list of roles, or "public".
 * The app refuses to start with a route that does not say (see app.ts).
 */
export type RouteAccess = readonly Role[] | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** the hash of the session token, for sign-out and the session's From-address snapshot */
  sessionHash: string;
}

export const anyRole: readonly Role[] = ["admin", "supervisor", "agent"];
export const adminOnly: readonly Role[] = ["admin"];
export const adminOrSupervisor: readonly Role[] = ["admin", "supervisor"];
