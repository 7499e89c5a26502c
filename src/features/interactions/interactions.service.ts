import type { BlobStore } from "../../blobs/blob-store.js";
import { AppError } from "../../errors.js";
import type { Role } from "../../shared/roles.js";
import { groupBy } from "../../shared/group-by.js";
import type { Address } from "../../shared/email-address.js";
import type { InteractionDetail, InteractionView, MessageView } from "./interactions.schema.js";
import type { AttachmentRow, InteractionFilter, InteractionRow, InteractionsStore, MessageFields, ThreadMessageRow } from "./interactions.store.js";

// storage keeps "" for a message without From; a client must not mistake that for a sender it can answer
function senderOf(row: MessageFields): Address | null {
  return row.from_address === "" && row.from_name === "" ? null : { address: row.from_address, name: row.from_name };
}

function emailOf(row: MessageFields & { mailbox_id: string; thread_id: string }, attachments: AttachmentRow[]) {
  return {
    mailboxId: row.mailbox_id,
    messageId: row.internet_message_id,
    subject: row.subject,
    from: senderOf(row),
    to: JSON.parse(row.to_json) as Address[],
    cc: JSON.parse(row.cc_json) as Address[],
    replyTo: JSON.parse(row.reply_to_json) as Address[],
    receivedAt: row.received_at,
    threadId: row.thread_id,
    sizeBytes: Number(row.size_bytes),
    flags: { autoReply: row.flag_auto_reply === 1, bounce: row.flag_bounce === 1, loop: row.flag_loop === 1, wrapped: row.wrapped },
    attachments: attachments.map((a) => ({ id: a.id, filename: a.filename, contentType: a.content_type, size: a.size, inline: a.inline === 1 })),
  };
}

function present(row: InteractionRow, attachments: AttachmentRow[]): InteractionView {
  return { id: row.id, queueId: row.queue_id, agentId: row.agent_id, state: row.state, ...emailOf(row, attachments) };
}

function presentMessage(row: ThreadMessageRow, interactionIds: string[], attachments: AttachmentRow[]): MessageView {
  return { id: row.id, direction: row.direction, interactionIds, ...emailOf(row, attachments) };
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

/** Who asks: admins and supervisors see every interaction, agents those of their queues and those they hold. */
export interface Viewer {
  userId: string;
  role: Role;
}

export class InteractionsService {
  constructor(
    readonly store: InteractionsStore,
    private readonly blobs: BlobStore,
  ) {}

  /** Whether the viewer may see (and so act on) an interaction in this queue, held by this agent. */
  async visible(viewer: Viewer, row: { queue_id: string | null; agent_id: string | null }): Promise<boolean> {
    if (viewer.role !== "agent" || row.agent_id === viewer.userId) return true;
    return this.store.worksQueue(viewer.userId, row.queue_id);
  }

  private async visibleRow(viewer: Viewer, id: string): Promise<InteractionRow> {
    const row = await this.store.byId(id);
    // an interaction the agent may not see is, to the agent, not there
    if (!row || !(await this.visible(viewer, row))) throw AppError.notFound("Interaction");
    return row;
  }

  /** One interaction as the list shows it (after a change: the caller may see it). */
  async one(id: string): Promise<InteractionView> {
    const row = await this.store.byId(id);
    if (!row) throw AppError.notFound("Interaction");
    return present(row, await this.store.attachmentsOf([row.message_id]));
  }

  async list(viewer: Viewer, filter: InteractionFilter, limit: number, cursor: string | undefined): Promise<{ items: InteractionView[]; nextCursor: string | null }> {
    const rows = await this.store.list({ ...filter, viewerId: viewer.role === "agent" ? viewer.userId : undefined }, limit + 1, cursor);
    const page = rows.slice(0, limit);
    const attachments = await this.store.attachmentsOf([...new Set(page.map((r) => r.message_id))]);
    const byMessage = groupBy(attachments, (a) => a.message_id);
    return {
      items: page.map((r) => present(r, byMessage.get(r.message_id) ?? [])),
      nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  async detail(viewer: Viewer, id: string): Promise<InteractionDetail> {
    const row = await this.visibleRow(viewer, id);
    const body = await this.store.body(row.message_id);
    if (!body) throw AppError.notFound("Interaction");
    const thread = await this.store.thread(row.thread_id);
    const attachments = await this.store.attachmentsOf([...new Set([row.message_id, ...thread.messages.map((m) => m.id)])]);
    const byMessage = groupBy(attachments, (a) => a.message_id);
    const interactionsOf = groupBy(thread.interactions, (i) => i.message_id);
    const own = byMessage.get(row.message_id) ?? [];
    return {
      ...present(row, own),
      text: body.text,
      html: body.html === null ? null : rewriteCidReferences(body.html, row.id, own),
      messages: thread.messages.map((m) => presentMessage(m, (interactionsOf.get(m.id) ?? []).map((i) => i.id), byMessage.get(m.id) ?? [])),
    };
  }

  async raw(viewer: Viewer, id: string): Promise<Buffer> {
    const row = await this.visibleRow(viewer, id);
    const body = await this.store.body(row.message_id);
    if (!body) throw AppError.notFound("Interaction");
    const data = await this.blobs.get(body.raw_blob_id);
    if (!data) throw new AppError("internal", "The original message of this interaction is missing from storage.");
    return data;
  }

  async attachment(viewer: Viewer, id: string, attachmentId: string): Promise<{ meta: AttachmentRow; data: Buffer }> {
    await this.visibleRow(viewer, id);
    const meta = await this.store.attachment(id, attachmentId);
    if (!meta) throw AppError.notFound("Attachment");
    const data = await this.blobs.get(meta.blob_id);
    if (!data) throw new AppError("internal", "The attachment's bytes are missing from storage.");
    return { meta, data };
  }
}
