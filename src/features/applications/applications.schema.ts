import { z } from "zod";
import { displayText, strictBody } from "../../http/schema-helpers.js";

const nameMessage = "Application name must have 1 to 100 characters";
const queueMessage = "Enter the id of the queue this application routes mail to";

const autoAcknowledge = strictBody({
  enabled: z.boolean({ error: "autoAcknowledge.enabled must be true or false" }),
  // a header of the mail it sends: a line break would start another header
  subject: displayText("Subject", { max: 200, min: 0 }).default(""),
  text: z.string({ error: "Text must be text" }).max(10_000, "Text may have at most 10000 characters").default(""),
});
export type AutoAcknowledgeInput = z.infer<typeof autoAcknowledge>;

const fields = {
  name: displayText("Application name", { max: 100, required: nameMessage, tooLong: nameMessage }),
  enabled: z.boolean({ error: "Enabled must be true or false" }),
  mailboxIds: z
    .array(z.string({ error: "A mailbox id must be text" }), { error: "mailboxIds must be a list of mailbox ids" })
    .max(1000, "An application may list at most 1000 mailboxes"),
  queueId: z.string({ error: queueMessage }).min(1, queueMessage),
};

export const createApplicationBody = strictBody({
  name: fields.name,
  enabled: fields.enabled.optional(),
  mailboxIds: fields.mailboxIds.optional(),
  queueId: fields.queueId,
  autoAcknowledge: autoAcknowledge.optional(),
});
export type CreateApplicationInput = z.infer<typeof createApplicationBody>;

export const patchApplicationBody = strictBody({
  name: fields.name.optional(),
  enabled: fields.enabled.optional(),
  mailboxIds: fields.mailboxIds.optional(),
  queueId: fields.queueId.optional(),
  autoAcknowledge: autoAcknowledge.nullable().optional(),
});
export type PatchApplicationInput = z.infer<typeof patchApplicationBody>;

export const applicationView = z.object({
  id: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  mailboxIds: z.array(z.string()),
  queueId: z.string(),
  autoAcknowledge: z.object({ enabled: z.boolean(), subject: z.string(), text: z.string() }).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ApplicationView = z.infer<typeof applicationView>;
