import { z } from "zod";

export const addressView = z.object({ address: z.string(), name: z.string() });

export const attachmentView = z.object({
  id: z.string(),
  filename: z.string(),
  contentType: z.string(),
  size: z.number(),
  inline: z.boolean(),
});

const flagsView = z.object({
  autoReply: z.boolean(),
  bounce: z.boolean(),
  loop: z.boolean(),
  wrapped: z.enum(["oversize", "unparsable", "empty", "unstorable"]).nullable(),
});

/** What every view of an email shows. */
const emailFields = {
  mailboxId: z.string(),
  messageId: z.string().nullable().describe("the Message-ID header, without angle brackets"),
  subject: z.string(),
  // null when the message has no From; a From with only a display name keeps it, with address ""
  from: addressView.nullable(),
  to: z.array(addressView),
  cc: z.array(addressView),
  replyTo: z.array(addressView),
  receivedAt: z.string(),
  threadId: z.string(),
  sizeBytes: z.number(),
  flags: flagsView,
  attachments: z.array(attachmentView),
};

export const interactionView = z.object({
  id: z.string(),
  queueId: z.string().nullable(),
  agentId: z.string().nullable(),
  state: z.enum(["queued", "assigned", "done"]),
  ...emailFields,
});
export type InteractionView = z.infer<typeof interactionView>;

/** One email of a thread, in or out. An inbound email's first interaction has the email's id. */
export const messageView = z.object({
  id: z.string(),
  direction: z.enum(["in", "out"]),
  interactionIds: z.array(z.string()).describe("the interactions this email made (none for an outbound email)"),
  ...emailFields,
});
export type MessageView = z.infer<typeof messageView>;

export const interactionDetail = interactionView.extend({
  text: z.string(),
  html: z.string().nullable(),
  messages: z.array(messageView),
});
export type InteractionDetail = z.infer<typeof interactionDetail>;

export const historyView = z.object({
  at: z.string(),
  actor: z.object({ id: z.string(), username: z.string() }).nullable().describe("null: Mailroom itself (routing, offering)"),
  action: z.string().describe("routed, accepted, offered, transferred, done, replied, auto_acknowledged"),
  detail: z.record(z.string(), z.unknown()),
});
export type HistoryView = z.infer<typeof historyView>;

export const queueStatsView = z.object({
  queueId: z.string(),
  name: z.string(),
  waiting: z.number(),
  assigned: z.number(),
  oldestWaitingSince: z.string().nullable(),
  oldestWaitingSeconds: z.number().nullable(),
});
export type QueueStatsView = z.infer<typeof queueStatsView>;

export const transferBody = z
  .strictObject(
    {
      queueId: z.string().min(1).optional(),
      agentId: z.string().min(1).optional(),
    },
    { error: (iss) => (iss.code === "unrecognized_keys" ? `Unknown field(s): ${iss.keys.join(", ")}` : undefined) },
  )
  .refine((b) => (b.queueId === undefined) !== (b.agentId === undefined), { message: "Send either queueId (to a queue) or agentId (to an agent)", path: ["queueId"] });

export const listQuery = z.object({
  mailboxId: z.string().optional(),
  queueId: z.string().optional(),
  state: z.enum(["queued", "assigned", "done"], { message: "state must be queued, assigned or done" }).optional(),
  agentId: z.string().optional(),
  threadId: z.string().optional(),
  limit: z.coerce.number().int().min(1, "limit must be 1..200").max(200, "limit must be 1..200").default(50),
  cursor: z.string().optional(),
});
