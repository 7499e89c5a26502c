/** An inbound route (GET /api/v1/routes): mail to `pattern` goes to `queueId`; the lowest priority wins. */
export interface Route {
  id: string;
  /** `support@acme.test` (one address) or `@acme.test` (every address of the domain), lower case */
  pattern: string;
  queueId: string;
  priority: number;
  createdAt: string;
  updatedAt: string;
}

export interface RoutingSettings {
  routeToMultipleDestinations: boolean;
}

export interface QueueAgents {
  userIds: string[];
}

/**
 * The order in which routes win, as Mailroom applies it: the lowest priority number, then an exact
 * address before a domain, then the older route (ids grow with time).
 */
export function byPrecedence(a: Route, b: Route): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const aDomain = a.pattern.startsWith("@");
  const bDomain = b.pattern.startsWith("@");
  if (aDomain !== bDomain) return aDomain ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
