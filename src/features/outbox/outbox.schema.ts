import { z } from "zod";
import { strictBody } from "../../http/schema-helpers.js";

const addresses = (what: string) => z.array(z.string({ error: `${what} lists email addresses` }).max(320), { error: `${what} lists email addresses` }).max(100, `${what} may list at most 100 addresses`);

const attachment = z.strictObject({
  filename: z.string().min(1, "An attachment needs a file name").max(255),
  contentType: z.string().max(200).default("application/octet-stream"),
  contentBase64: z.string({ error: "An attachment's bytes go in contentBase64" }).regex(/^[A-Za-z0-9+/=\r\n]*$/, "contentBase64 must be base64"),
});

const common = {
  from: z.string({ error: "Choose one of your From addresses (GET /api/v1/me/from-addresses)" }).max(320),
  cc: addresses("cc").optional(),
  bcc: addresses("bcc").optional(),
  subject: z.string().max(998, "The subject may have at most 998 characters").optional(),
  text: z.string({ error: "Write the text of the email" }).max(1_000_000),
  html: z.string().max(2_000_000).optional(),
  attachments: z.array(attachment).max(20, "At most 20 attachments").optional(),
};

export const replyBody = strictBody({ ...common, to: addresses("to").optional(), all: z.boolean().optional().describe("reply all: the original's To and Cc too") });
export const forwardBody = strictBody({ ...common, to: addresses("to").min(1, "Forward to at least one address") });
export const newEmailBody = strictBody({ ...common, to: addresses("to").min(1, "Send to at least one address"), subject: z.string().max(998) });
export type ReplyInput = z.infer<typeof replyBody>;
export type ForwardInput = z.infer<typeof forwardBody>;
export type NewEmailInput = z.infer<typeof newEmailBody>;

export const outboundAccepted = z.object({ outboundId: z.string(), messageId: z.string().describe("the email's Message-ID, without angle brackets") });

export const outboundView = z.object({
  id: z.string(),
  state: z.enum(["queued", "sending", "sent", "failed"]),
  attempts: z.number(),
  lastError: z.string().nullable().describe("what went wrong last, with the server's words"),
  lastResponse: z.string().nullable().describe("the server's reply to the last attempt"),
  messageId: z.string().nullable().describe("the email's Message-ID (null for an acknowledgement not composed yet)"),
  interactionId: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  sentAt: z.string().nullable(),
});
export type OutboundView = z.infer<typeof outboundView>;
