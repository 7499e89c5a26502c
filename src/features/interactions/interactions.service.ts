import type { BlobStore } from "../../blobs/blob-store.js";
import { AppError } from "../../errors.js";
import { groupBy } from "../../shared/group-by.js";
import type { Address } from "../../shared/email-address.js";
import type { InteractionDetail, InteractionView } from "./interactions.schema.js";
import type { AttachmentRow, InteractionFilter, InteractionRow, InteractionsStore } from "./interactions.store.js";

// storage keeps "" for a message without From; a client must not mistake that for a sender it can answer
function senderOf(row: InteractionRow): Address | null {
  return row.from_address === "" && row.from_name === "" ? null : { address: row.from_address, name: row.from_name };
}

function present(row: InteractionRow, attachments: AttachmentRow[]): InteractionView {
  return {
    id: row.id,
    mailboxId: row.mailbox_id,
    queueId: row.queue_id,
    agentId: row.agent_id,
    state: row.state,
    messageId: row.message_id,
    subject: row.subject,
    from: senderOf(row),
    to: JSON.parse(row.to_json) as Address[],
    cc: JSON.parse(row.cc_json) as Address[],
    replyTo: JSON.parse(row.reply_to_json) as Address[],
    receivedAt: row.received_at,
    threadId: row.thread_id,
    sizeBytes: row.size_bytes,
    flags: { autoReply: row.flag_auto_reply === 1, bounce: row.flag_bounce === 1, loop: row.flag_loop === 1, wrapped: row.wrapped },
    attachments: attachments.map((a) => ({ id: a.id, filename: a.filename, contentType: a.content_type, size: a.size, inline: a.inline === 1 })),
  };
}

/** Points `cid:` references of the sanitized HTML at the attachment download of this interaction. */
export function rewriteCidReferences(html: string, interactionId: string, attachments: AttachmentRow[]): string {
  const byCid = new Map(attachments.filter((a) => a.content_id).map((a) => [a.content_id!.toLowerCase(), a.id]));
  return html.replace(/(["'])cid:([^"'\s>]+)\1/gi, (whole, quote: string, cid: string) => {
    const id = byCid.get(decodedCid(cid).toLowerCase());
    return id ? `${quote}/api/v1/interactions/${interactionId}/attachments/${id}${quote}` : whole;
  });
}

/** A `cid:` URL's Content-ID; as written when its %-escapes are malformed (`cid:%`): a hostile mail stays readable. */
function decodedCid(cid: string): string {
  try {
    return decodeURIComponent(cid);
  } catch {
    return cid;
  }
}

export class InteractionsService {
  constructor(
    readonly store: InteractionsStore,
    private readonly blobs: BlobStore,
  ) {}

  async list(filter: InteractionFilter, limit: number, cursor: string | undefined): Promise<{ items: InteractionView[]; nextCursor: string | null }> {
    const rows = await this.store.list(filter, limit + 1, cursor);
    const page = rows.slice(0, limit);
    const attachments = await this.store.attachmentsOf(page.map((r) => r.id));
    const byInteraction = groupBy(attachments, (a) => a.interaction_id);
    return {
      items: page.map((r) => present(r, byInteraction.get(r.id) ?? [])),
      nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  async detail(id: string): Promise<InteractionDetail> {
    const row = await this.store.byId(id);
    if (!row) throw AppError.notFound("Interaction");
    const thread = await this.store.thread(row.thread_id);
    const attachments = await this.store.attachmentsOf(thread.map((t) => t.id));
    const byInteraction = groupBy(attachments, (a) => a.interaction_id);
    const own = byInteraction.get(row.id) ?? [];
    return {
      ...present(row, own),
      text: row.text,
      html: row.html === null ? null : rewriteCidReferences(row.html, row.id, own),
      messages: thread.map((t) => present(t, byInteraction.get(t.id) ?? [])),
    };
  }

  async raw(id: string): Promise<Buffer> {
    const row = await this.store.byId(id);
    if (!row) throw AppError.notFound("Interaction");
    const data = await this.blobs.get(row.raw_blob_id);
    if (!data) throw new AppError("internal", "The original message of this interaction is missing from storage.");
    return data;
  }

  async attachment(id: string, attachmentId: string): Promise<{ meta: AttachmentRow; data: Buffer }> {
    const meta = await this.store.attachment(id, attachmentId);
    if (!meta) throw AppError.notFound("Attachment");
    const data = await this.blobs.get(meta.blob_id);
    if (!data) throw new AppError("internal", "The attachment's bytes are missing from storage.");
    return { meta, data };
  }
}
