import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import type { SourceMessage } from "../../src/connectors/mail-source.js";
import type { Database } from "../../src/db/schema.js";
import type { InboundTarget, IngestService, MailParser } from "../../src/ingest/ingest.service.js";
import type { CommitOutcome } from "../../src/ingest/sync-store.js";
import type { ParsedMail } from "../../src/ingest/types.js";

/**
 * A stand-in parser: the raw text is `messageId|subject|inReplyTo|to`, so each test states exactly what
 * it feeds in (`to` a comma list, support@acme.test when not given).
 */
export const fakeParse: MailParser = ({ raw }) => {
  const [messageId, subject, inReplyTo, to] = raw.toString().split("|");
  const mail: ParsedMail = {
    messageId: messageId || null,
    inReplyTo: inReplyTo ? [inReplyTo] : [],
    references: [],
    subject: subject ?? "",
    from: { address: "customer@example.test", name: "Customer" },
    to: (to || "support@acme.test").split(",").map((address) => ({ address, name: "" })),
    cc: [],
    replyTo: [],
    deliveredTo: [],
    date: null,
    text: `body of ${subject}`,
    html: subject === "with image" ? '<p><img src="cid:logo@x"></p>' : null,
    attachments:
      subject === "with image"
        ? [{ filename: "logo.png", contentType: "image/png", size: 3, inline: true, contentId: "logo@x", content: Buffer.from("PNG") }]
        : [],
    flags: { autoReply: false, bounce: false, loop: false, wrapped: null },
    contentHash: createHash("sha256").update(raw).digest("hex"),
  };
  return Promise.resolve(mail);
};

export function msg(sourceKey: string, text: string): SourceMessage {
  const raw = Buffer.from(text);
  return { sourceKey, raw, size: raw.length, truncated: false, receivedAt: new Date("2026-11-01T10:00:00Z") };
}

export const testCtx = { maxSizeBytes: 5 * 1024 * 1024, ownAddresses: new Set<string>() };

/** Stores messages of a mailbox's maildrop in one transaction, as a sync's commit does. */
export function commitMessages(
  ingest: IngestService,
  target: InboundTarget,
  messages: SourceMessage[],
  opts: { maildrop?: string; cursor?: string | null; epoch?: string; reread?: boolean } = {},
): Promise<CommitOutcome> {
  const store = ingest.forMaildrop(target, opts.maildrop ?? "test-maildrop", testCtx);
  return store.commit({ messages, skipped: [], cursor: opts.cursor ?? null, epoch: opts.epoch ?? "", reread: opts.reread ?? false, prepared: null });
}

/** An inbound IMAP mailbox row, for tests of what comes after the mailboxes API. */
export async function insertMailboxRow(k: Kysely<Database>, id: string): Promise<void> {
  const now = new Date().toISOString();
  await k
    .insertInto("mailboxes")
    .values({
      id, name: id, client_type: "inbound", type: "IMAP", login: id, host: "127.0.0.1", port: 143,
      security: "none", max_size_mb: 5, from_address: null, from_address_folder_id: null, auth_method: "password",
      oauth_grant: null, oauth_client_id: null, oauth_directory_id: null, oauth_tenant_authority: null,
      oauth_secret_expires_at: null, password_sealed: null, client_secret_sealed: null, test_mailbox: 0, options: "{}",
      created_at: now, updated_at: now,
    })
    .execute();
}
