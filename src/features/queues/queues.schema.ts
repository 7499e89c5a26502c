import { z } from "zod";
import { strictBody } from "../../http/schema-helpers.js";

export const queueName = z
  .string({ error: "Enter a queue name" })
  .trim()
  .min(1, "Enter a queue name")
  .max(100, "Queue name may have at most 100 characters");

export const createQueueBody = strictBody({ name: queueName });

export const queueView = z.object({ id: z.string(), name: z.string() });
export type QueueView = z.infer<typeof queueView>;
