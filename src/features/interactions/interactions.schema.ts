import { z } from "zod";

export const addressView = z.object({ address: z.string(), name: z.string() });

export const attachmentView = z.object({
  id: z.string(),
  filename: z.string(),
  contentType: z.string(),
  size: z.number(),
  inline: z.boolean(),
});

export const interactionView = z.object({
  id: z.string(),
  mailboxId: z.string(),
  queueId: z.string().nullable(),
  agentId: z.string().nullable(),
  state: z.enum(["queued", "assigned", "done"]),
  messageId: z.string().nullable(),
  subject: z.string(),
  // null when the message has no From; a From with only a display name keeps it, with address ""
  from: addressView.nullable(),
  to: z.array(addressView),
  cc: z.array(addressView),
  replyTo: z.array(addressView),
  receivedAt: z.string(),
  threadId: z.string(),
  sizeBytes: z.number(),
  flags: z.object({
    autoReply: z.boolean(),
    bounce: z.boolean(),
    loop: z.boolean(),
    wrapped: z.enum(["oversize", "unparsable", "empty", "unstorable"]).nullable(),
  }),
  attachments: z.array(attachmentView),
});
export type InteractionView = z.infer<typeof interactionView>;

export const interactionDetail = interactionView.extend({
  text: z.string(),
  html: z.string().nullable(),
  messages: z.array(interactionView),
});
export type InteractionDetail = z.infer<typeof interactionDetail>;

export const listQuery = z.object({
  mailboxId: z.string().optional(),
  queueId: z.string().optional(),
  state: z.enum(["queued", "assigned", "done"], { message: "state must be queued, assigned or done" }).optional(),
  agentId: z.string().optional(),
  threadId: z.string().optional(),
  limit: z.coerce.number().int().min(1, "limit must be 1..200").max(200, "limit must be 1..200").default(50),
  cursor: z.string().optional(),
});
