import { z } from "zod";
import { strictBody } from "../../http/schema-helpers.js";

const domainPattern = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const localPattern = /^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

/** `support@acme.test` (an address) or `@acme.test` (every address of a domain), compared in lower case. */
export const routePattern = z
  .string({ error: "Enter an address (support@acme.test) or a domain (@acme.test)" })
  .trim()
  .toLowerCase()
  .refine((value) => {
    const at = value.lastIndexOf("@");
    if (at === -1 || !domainPattern.test(value.slice(at + 1))) return false;
    return at === 0 || localPattern.test(value.slice(0, at));
  }, "Enter an address (support@acme.test) or a domain starting with @ (@acme.test)");

const priority = z
  .number({ error: "Priority is a whole number from 0 to 1000000; the lowest number wins" })
  .int("Priority is a whole number from 0 to 1000000; the lowest number wins")
  .min(0, "Priority is a whole number from 0 to 1000000; the lowest number wins")
  .max(1_000_000, "Priority is a whole number from 0 to 1000000; the lowest number wins");

export const createRouteBody = strictBody({
  pattern: routePattern,
  queueId: z.string({ error: "Choose the queue the mail goes to" }).min(1, "Choose the queue the mail goes to"),
  priority: priority.default(100),
});

export const updateRouteBody = strictBody({
  pattern: routePattern.optional(),
  queueId: z.string().min(1, "Choose the queue the mail goes to").optional(),
  priority: priority.optional(),
});

export const routeView = z.object({
  id: z.string(),
  pattern: z.string(),
  queueId: z.string(),
  priority: z.number().describe("the lowest number wins; on a tie an address before a domain, then the older route"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RouteView = z.infer<typeof routeView>;

export const routingSettings = z.object({
  routeToMultipleDestinations: z
    .boolean({ error: "routeToMultipleDestinations is true or false" })
    .describe("off: one interaction for the best matching route; on: one per matched queue, the email stored once"),
});
export const routingSettingsBody = strictBody({ routeToMultipleDestinations: routingSettings.shape.routeToMultipleDestinations });
export type RoutingSettings = z.infer<typeof routingSettings>;
