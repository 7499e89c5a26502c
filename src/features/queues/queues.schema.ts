import { z } from "zod";
import { displayText, strictBody } from "../../http/schema-helpers.js";

export const queueName = displayText("Queue name", { max: 100, required: "Enter a queue name" });

export const createQueueBody = strictBody({ name: queueName });

export const queueView = z.object({ id: z.string(), name: z.string() });
export type QueueView = z.infer<typeof queueView>;
