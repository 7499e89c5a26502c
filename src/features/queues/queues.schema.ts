import { z } from "zod";
import { displayText, strictBody } from "../../http/schema-helpers.js";

export const queueName = displayText("Queue name", { max: 100, required: "Enter a queue name" });

export const createQueueBody = strictBody({ name: queueName });

export const queueView = z.object({ id: z.string(), name: z.string() });

export const queueAgentsBody = strictBody({
  userIds: z.array(z.string({ error: "userIds lists user ids" }), { error: "userIds lists user ids" }).max(10_000, "At most 10000 agents a queue"),
});
export const queueAgentsView = z.object({ userIds: z.array(z.string()) });
export type QueueView = z.infer<typeof queueView>;
