import type { ApiClient } from "../../test/support/mailroom-process.js";
import { nowMs } from "../lib/clock.js";

/**
 * The inbound routes of `--routes N`: what an admin of a large help desk might have set up, made through
 * the HTTP API before a backlog drain, so that routing does its real work on every message: the rules
 * read once in the first transaction (creating them changes their version), then each message's
 * recipients looked up among N patterns. Both corpora send every message To support@company.example, so a
 * few routes match it (an exact address on two queues and its domain: three matches to sort, one best)
 * and the rest, mostly exact addresses of made-up domains and some of company.example, do not.
 */

/** Both corpora's recipient (bench/corpus.ts). */
export const corpusRecipient = "support@company.example";
const corpusDomain = `@${corpusRecipient.split("@")[1]!}`;

export const routeQueueNames = ["Routing 1", "Routing 2", "Routing 3", "Routing 4"] as const;

/** In the order they are made: the first is the best match, so the drained mail lands in its queue. */
const matchingRoutes: { pattern: string; queue: number }[] = [
  { pattern: corpusRecipient, queue: 1 },
  { pattern: corpusDomain, queue: 0 },
  { pattern: corpusRecipient, queue: 2 },
];

/** POSTs in flight while the routes are made: the server writes one at a time, this only hides the round trips. */
const inFlight = 4;

export interface PlannedRoute {
  pattern: string;
  /** an index into routeQueueNames */
  queue: number;
  priority: number;
}

/** What the routes of one drain were; the same for every drain with `--routes N`. */
export interface RouteSetDescription {
  routes: number;
  queues: readonly string[];
  exactAddresses: number;
  domains: number;
  /** the routes that match the corpus' recipient, best first: `best` is where every message should land */
  matching: { pattern: string; queue: string; priority: number }[];
  best: { pattern: string; queue: string } | null;
}

/**
 * N routes with distinct priorities (10, 20, … in the order made). The matching ones sit in the middle
 * of the list, so that routes with lower and higher numbers surround them. Of the others, about one in
 * seven is a domain (`@brand-i.example`), one in six an address of company.example (it shares the
 * corpus' domain but not its address), the rest addresses of 97 made-up tenant domains. The same N
 * gives the same routes.
 */
export function planRoutes(n: number): PlannedRoute[] {
  const matching = matchingRoutes.slice(0, Math.min(n, matchingRoutes.length));
  const others: { pattern: string; queue: number }[] = [];
  for (let i = 0; others.length < n - matching.length; i++) {
    const queue = i % routeQueueNames.length;
    if (i % 7 === 3) others.push({ pattern: `@brand-${i}.example`, queue });
    else if (i % 5 === 1) others.push({ pattern: `team-${i}@company.example`, queue });
    else others.push({ pattern: `desk-${i}@tenant-${i % 97}.example`, queue });
  }
  const middle = Math.floor(others.length / 2);
  const ordered = [...others.slice(0, middle), ...matching, ...others.slice(middle)];
  return ordered.map((route, i) => ({ ...route, priority: (i + 1) * 10 }));
}

export function describeRoutes(plan: PlannedRoute[]): RouteSetDescription {
  const queueName = (i: number) => routeQueueNames[i]!;
  const matching = plan
    .filter((r) => r.pattern === corpusRecipient || r.pattern === corpusDomain)
    .sort((a, b) => a.priority - b.priority)
    .map((r) => ({ pattern: r.pattern, queue: queueName(r.queue), priority: r.priority }));
  const domains = plan.filter((r) => r.pattern.startsWith("@")).length;
  return {
    routes: plan.length,
    queues: plan.length ? routeQueueNames : [],
    exactAddresses: plan.length - domains,
    domains,
    matching,
    best: matching[0] ? { pattern: matching[0].pattern, queue: matching[0].queue } : null,
  };
}

/**
 * Makes the queues and the routes of `plan` through the admin API, as an admin would (each POST is a
 * transaction of its own, with its audit entry), and checks that the server lists them all. Not timed
 * with the drain: the caller makes them before the POST that enables the application.
 */
export async function createRoutes(api: ApiClient, plan: PlannedRoute[]): Promise<{ ms: number }> {
  const started = nowMs();
  const queueIds: string[] = [];
  for (const name of routeQueueNames) queueIds.push((await api.call<{ id: string }>("POST", "/api/v1/queues", { name })).id);
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const route = plan[next++]!;
      await api.call("POST", "/api/v1/routes", { pattern: route.pattern, queueId: queueIds[route.queue], priority: route.priority });
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, plan.length) }, worker));
  const listed = await api.call<{ items: unknown[] }>("GET", "/api/v1/routes");
  if (listed.items.length !== plan.length) throw new Error(`Mailroom lists ${listed.items.length} of the ${plan.length} routes made`);
  return { ms: Math.round(nowMs() - started) };
}
