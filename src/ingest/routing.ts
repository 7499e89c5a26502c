import type { ParsedMail } from "./types.js";

/**
 * Where an inbound message goes, decided inside the transaction that stores it, from the rules as they
 * are in that transaction: inbound routes match a recipient (To, Cc, Delivered-To) by exact address or by
 * `@domain`; the lowest priority number wins, an exact address before a domain on a tie, then the older
 * route. With Route to Multiple Destinations on, every matched queue gets an interaction of its own (the
 * message is stored once); off, only the best match does. No match: the queue of the application that
 * enabled the mailbox. A new message in a thread that an agent holds goes to that agent first.
 */

export interface RouteRule {
  id: string;
  /** lower case: `support@acme.test` or `@acme.test` */
  pattern: string;
  queueId: string;
  priority: number;
}

export interface RoutingRules {
  /** changes with every edit of routes or routing settings: what a cached copy is checked against */
  version: string;
  multipleDestinations: boolean;
  byPattern: Map<string, RouteRule[]>;
}

/** A thread with an interaction an agent holds: the newest such interaction. */
export interface HeldThread {
  agentId: string;
  queueId: string | null;
  interactionId: string;
}

export interface RouteDecision {
  queueId: string | null;
  agentId: string | null;
  /** the route's id, "" for the application's queue or the thread's agent: unique per message */
  routeKey: string;
  /** for the interaction's history: the rule and why */
  detail: { rule: { id: string; pattern: string; priority: number } | null; queueId: string | null; agentId?: string; why: string };
}

export function compileRules(version: string, multipleDestinations: boolean, routes: RouteRule[]): RoutingRules {
  const byPattern = new Map<string, RouteRule[]>();
  for (const route of routes) {
    const list = byPattern.get(route.pattern);
    if (list) list.push(route);
    else byPattern.set(route.pattern, [route]);
  }
  return { version, multipleDestinations, byPattern };
}

/** Recipient addresses of a message, lower case, each once, in the order To, Cc, Delivered-To. */
export function recipientsOf(mail: Pick<ParsedMail, "to" | "cc" | "deliveredTo">): string[] {
  const all = [...mail.to.map((a) => a.address), ...mail.cc.map((a) => a.address), ...mail.deliveredTo];
  return [...new Set(all.map((a) => a.trim().toLowerCase()).filter((a) => a.includes("@")))];
}

interface Match {
  route: RouteRule;
  exact: boolean;
  recipient: string;
}

function better(a: Match, b: Match): number {
  if (a.route.priority !== b.route.priority) return a.route.priority - b.route.priority;
  if (a.exact !== b.exact) return a.exact ? -1 : 1;
  return a.route.id < b.route.id ? -1 : a.route.id > b.route.id ? 1 : 0;
}

function matches(rules: RoutingRules, recipients: string[]): Match[] {
  const found = new Map<string, Match>();
  for (const recipient of recipients) {
    const domain = recipient.slice(recipient.lastIndexOf("@"));
    for (const [pattern, exact] of [
      [recipient, true],
      [domain, false],
    ] as const) {
      for (const route of rules.byPattern.get(pattern) ?? []) {
        const match = { route, exact, recipient };
        const seen = found.get(route.id);
        if (!seen || better(match, seen) < 0) found.set(route.id, match);
      }
    }
  }
  return [...found.values()].sort(better);
}

function routed(match: Match): RouteDecision {
  const { route } = match;
  return {
    queueId: route.queueId,
    agentId: null,
    routeKey: route.id,
    detail: {
      rule: { id: route.id, pattern: route.pattern, priority: route.priority },
      queueId: route.queueId,
      why: `${match.recipient} matched ${match.exact ? "the address" : "the domain"} ${route.pattern} (priority ${route.priority})`,
    },
  };
}

export function decideRoutes(rules: RoutingRules, recipients: string[], applicationQueueId: string | null, held: HeldThread | null): RouteDecision[] {
  if (held) {
    return [
      {
        queueId: held.queueId,
        agentId: held.agentId,
        routeKey: "",
        detail: { rule: null, queueId: held.queueId, agentId: held.agentId, why: `a new message in a thread the agent holds (interaction ${held.interactionId})` },
      },
    ];
  }
  const found = matches(rules, recipients);
  if (found.length === 0) {
    return [{ queueId: applicationQueueId, agentId: null, routeKey: "", detail: { rule: null, queueId: applicationQueueId, why: "no route matched: the queue of the application" } }];
  }
  if (!rules.multipleDestinations) return [routed(found[0]!)];
  // one interaction per matched queue, made by the best route to it
  const byQueue = new Map<string, Match>();
  for (const match of found) if (!byQueue.has(match.route.queueId)) byQueue.set(match.route.queueId, match);
  return [...byQueue.values()].map(routed);
}
