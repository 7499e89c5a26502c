import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { BlobStore } from "../../blobs/blob-store.js";
import type { Dialect } from "../../db/dialect.js";
import type { Database, OutboxKind, OutboxTable } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import { composeAutoAcknowledgement, composeMessage, type ComposedMessage, type OriginalMessage } from "../../outbound/compose.js";
import type { Clock } from "../../shared/clock.js";
import type { Address } from "../../shared/email-address.js";
import type { EventBus } from "../../shared/event-bus.js";
import { newId } from "../../shared/ids.js";
import type { Role } from "../../shared/roles.js";
import type { InteractionsService } from "../interactions/interactions.service.js";
import type { MailboxesService, OutboundConnection } from "../mailboxes/mailboxes.service.js";
import type { ForwardInput, NewEmailInput, OutboundView, ReplyInput } from "./outbox.schema.js";
import { OutboxStore, type OriginalRow, type OutboxRow } from "./outbox.store.js";

export interface Sender {
  userId: string;
  role: Role;
  /** the From addresses of the caller's session (as of sign-in) */
  fromAddresses: { address: string; displayName: string }[];
}

/** What an auto-acknowledgement is composed from, fixed when the message that asks for it is stored. */
export interface AutoAckCompose {
  subject: string;
  text: string;
  fromAddress: string;
  customerName: string;
  customerAddress: string;
  referenceNumber: string;
}

export interface OutboxDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  mailboxes: MailboxesService;
  interactions: InteractionsService;
  events: EventBus;
  clock: Clock;
  /** the HTML an agent wrote, as the thread shows it */
  sanitizeHtml: (html: string) => string;
  /** a Message-ID as thread_refs keeps it */
  threadKey: (messageId: string) => string;
  fingerprint: (raw: Buffer) => string;
}

/** What a sender does next with a claimed row. */
export interface SendJob {
  row: OutboxRow;
  raw: Buffer;
  envelope: { from: string; to: string[] };
}

const parse = <T>(json: string) => JSON.parse(json) as T;

/** The left side of a generated Message-ID (and the MIME boundaries): letters and digits only. */
const randomId = () => randomBytes(12).toString("base64url").replace(/[^A-Za-z0-9]/g, "x");
const domainOf = (address: string) => address.slice(address.lastIndexOf("@") + 1);

export type SendOutcome = { sent: true; response: string } | { sent: false; retryAt: Date | null; error: string };

function changeOf(row: OutboxRow, outcome: SendOutcome, at: string) {
  if (outcome.sent) return { state: "sent" as const, last_error: null, last_response: outcome.response, next_attempt_at: row.next_attempt_at, sent_at: at, updated_at: at };
  if (outcome.retryAt) {
    return { state: "queued" as const, last_error: outcome.error, last_response: row.last_response, next_attempt_at: outcome.retryAt.toISOString(), sent_at: null, updated_at: at };
  }
  return { state: "failed" as const, last_error: outcome.error, last_response: row.last_response, next_attempt_at: row.next_attempt_at, sent_at: null, updated_at: at };
}

function originalOf(row: OriginalRow, references: string[]): OriginalMessage {
  return {
    internetMessageId: row.internet_message_id,
    references: references.filter((id) => id !== row.internet_message_id),
    subject: row.subject,
    from: row.from_address === "" && row.from_name === "" ? null : { address: row.from_address, name: row.from_name },
    to: parse<Address[]>(row.to_json),
    cc: parse<Address[]>(row.cc_json),
    replyTo: parse<Address[]>(row.reply_to_json),
    receivedAt: row.received_at,
    text: row.text,
    html: row.html,
  };
}

/**
 * Email going out: an agent's reply, reply all, forward or new email is composed, checked (a From
 * address of the agent's, an outbound mailbox that is enabled) and written with its outbox row in one
 * transaction; a sender (runners/outbox-sender.ts) claims due rows and reports how each attempt went.
 */
export class OutboxService {
  readonly store: OutboxStore;
  /** hears of new rows to send, to send them at once */
  onQueued?: () => void;

  constructor(private readonly deps: OutboxDeps) {
    this.store = new OutboxStore(deps.db, deps.dialect);
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  private async outbound(): Promise<OutboundConnection> {
    const connection = await this.deps.mailboxes.outboundConnection();
    if (!connection || !connection.enabled) {
      throw new AppError("conflict", "Mailroom has no enabled outbound mailbox: create the smtp-client mailbox and enable an application.");
    }
    return connection;
  }

  private fromOf(sender: Sender, from: string): { address: string; displayName: string } {
    const chosen = sender.fromAddresses.find((a) => a.address.toLowerCase() === from.trim().toLowerCase());
    if (!chosen) {
      throw AppError.invalid("from", "Choose one of your From addresses (GET /api/v1/me/from-addresses); a new one is there after you sign in again.");
    }
    return chosen;
  }

  /** The interaction the caller answers: visible to the caller, and held by the caller unless a supervisor or admin. */
  private async answerable(sender: Sender, interactionId: string): Promise<OriginalRow> {
    const original = await this.store.original(interactionId);
    if (!original || !(await this.deps.interactions.visible(sender, original))) throw AppError.notFound("Interaction");
    if (sender.role === "agent" && original.agent_id !== sender.userId) {
      throw new AppError("forbidden", "Accept the interaction before you answer it.");
    }
    return original;
  }

  async reply(sender: Sender, interactionId: string, input: ReplyInput): Promise<{ outboundId: string; messageId: string }> {
    const original = await this.answerable(sender, interactionId);
    const kind = input.all ? "replyAll" : "reply";
    return this.send(sender, kind, input, original);
  }

  async forward(sender: Sender, interactionId: string, input: ForwardInput): Promise<{ outboundId: string; messageId: string }> {
    const original = await this.answerable(sender, interactionId);
    return this.send(sender, "forward", input, original);
  }

  async newEmail(sender: Sender, input: NewEmailInput): Promise<{ outboundId: string; messageId: string }> {
    return this.send(sender, "new", input, null);
  }

  private async send(
    sender: Sender,
    kind: Exclude<OutboxKind, "autoAck">,
    input: ReplyInput | ForwardInput | NewEmailInput,
    about: OriginalRow | null,
  ): Promise<{ outboundId: string; messageId: string }> {
    const from = this.fromOf(sender, input.from);
    const connection = await this.outbound();
    const now = this.now();
    const attachments = (input.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.contentBase64, "base64") }));
    const context = {
      from,
      messageIdDomain: domainOf(from.address),
      now,
      randomId,
      ownAddresses: await this.deps.mailboxes.ownAddresses(),
      ...(input.to !== undefined ? { to: input.to } : {}),
      ...(input.cc !== undefined ? { cc: input.cc } : {}),
      ...(input.bcc !== undefined ? { bcc: input.bcc } : {}),
      ...(input.subject !== undefined ? { subject: input.subject } : {}),
      text: input.text,
      ...(input.html !== undefined ? { html: input.html } : {}),
      attachments,
    };
    let composed: ComposedMessage;
    if (about === null) {
      composed = await composeMessage({ ...context, kind: "new" });
    } else {
      const original = originalOf(about, await this.store.threadMessageIds(about.thread_id));
      if (kind === "forward") {
        const parts = await this.store.attachmentsOf(about.message_id);
        const bytes = await this.deps.blobs.getMany(parts.map((a) => a.blob_id));
        const originalAttachments = parts.map((a) => ({ filename: a.filename, contentType: a.content_type, content: bytes.get(a.blob_id) ?? Buffer.alloc(0) }));
        composed = await composeMessage({ ...context, kind: "forward", original, originalAttachments });
      } else {
        composed = await composeMessage({ ...context, kind: kind === "replyAll" ? "replyAll" : "reply", original });
      }
    }
    const outboundId = newId();
    const at = now.toISOString();
    const messageId = newId();
    const threadId = about?.thread_id ?? messageId;
    const rawBlob = newId();
    const blobs = [{ id: rawBlob, data: composed.raw }];
    const attachmentRows = attachments.map((a, position) => {
      const blobId = newId();
      blobs.push({ id: blobId, data: a.content });
      return { id: newId(), message_id: messageId, position, filename: a.filename, content_type: a.contentType, size: a.content.length, inline: 0, content_id: null, blob_id: blobId };
    });
    const outbox: OutboxTable = {
      id: outboundId, kind, message_id: messageId, interaction_id: about?.interaction_id ?? null, state: "queued", attempts: 0, next_attempt_at: at,
      claimed_until: null, claim_token: null, envelope: JSON.stringify(composed.envelope), compose: null, recipient: null, last_error: null, last_response: null,
      created_by: sender.userId, created_at: at, updated_at: at, sent_at: null,
    };
    await this.deps.db.transaction().execute(async (trx) => {
      const statements = this.store.writes(
        trx,
        {
          blobs,
          message: this.messageRow(messageId, connection.mailboxId, threadId, composed, from, at, rawBlob, input.text, input.html),
          attachments: attachmentRows,
          threadKey: this.deps.threadKey(composed.internetMessageId),
          outbox,
          history: about ? { interactionId: about.interaction_id, actorId: sender.userId, action: "replied", detail: { outboundId, kind, to: composed.envelope.to } } : null,
        },
        this.deps.blobs.inserts(trx, blobs),
        at,
      );
      await this.store.write(trx, statements);
    });
    this.deps.events.publish({ type: "outbound.updated", outboundId, interactionId: outbox.interaction_id, state: "queued" });
    this.onQueued?.();
    return { outboundId, messageId: composed.internetMessageId };
  }

  private messageRow(
    id: string,
    mailboxId: string,
    threadId: string,
    composed: ComposedMessage,
    from: { address: string; displayName: string },
    at: string,
    rawBlob: string,
    text: string,
    html: string | undefined,
  ) {
    return {
      id, mailbox_id: mailboxId, direction: "out" as const, internet_message_id: composed.internetMessageId, subject: composed.subject,
      from_address: from.address, from_name: from.displayName, to_json: JSON.stringify(composed.to), cc_json: JSON.stringify(composed.cc), reply_to_json: "[]",
      received_at: at, thread_id: threadId, size_bytes: composed.raw.length, flag_auto_reply: 0, flag_bounce: 0, flag_loop: 0, wrapped: null,
      dedup_key: `o:${id}`, content_hash: this.deps.fingerprint(composed.raw), raw_blob_id: rawBlob, text,
      html: html === undefined || html === "" ? null : this.deps.sanitizeHtml(html), created_at: at,
    };
  }

  async view(viewer: { userId: string; role: Role }, id: string): Promise<OutboundView> {
    const row = await this.store.byId(id);
    if (!row) throw AppError.notFound("Outbound email");
    if (viewer.role === "agent" && row.created_by !== viewer.userId) {
      const interaction = row.interaction_id ? await this.store.original(row.interaction_id) : undefined;
      if (!interaction || !(await this.deps.interactions.visible(viewer, interaction))) throw AppError.notFound("Outbound email");
    }
    return {
      id: row.id,
      state: row.state,
      attempts: Number(row.attempts),
      lastError: row.last_error,
      lastResponse: row.last_response,
      messageId: await this.store.messageIdOf(row.message_id),
      interactionId: row.interaction_id,
      nextAttemptAt: row.state === "queued" ? row.next_attempt_at : null,
      sentAt: row.sent_at,
    };
  }

  // --- the sender's side ---------------------------------------------------------------------

  /** The outbound mailbox as it is now: what a sender sends through (null: none, or not enabled). */
  async connection(): Promise<OutboundConnection | null> {
    const connection = await this.deps.mailboxes.outboundConnection();
    return connection?.enabled ? connection : null;
  }

  claim(token: string, limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const now = this.now();
    return this.store.claim(now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), token, limit);
  }

  /**
   * The bytes and envelope of claimed rows, read together; an auto-acknowledgement is composed now, at
   * its first attempt. A row that cannot be prepared answers its error instead.
   */
  async jobs(rows: OutboxRow[], connection: OutboundConnection): Promise<(SendJob | { row: OutboxRow; error: string })[]> {
    const blobOf = await this.store.rawBlobsOf(rows.flatMap((r) => (r.message_id === null ? [] : [r.message_id])));
    const raws = await this.deps.blobs.getMany([...blobOf.values()]);
    return Promise.all(
      rows.map(async (row) => {
        try {
          if (row.message_id === null) return await this.composeAutoAck(row, connection);
          const blob = blobOf.get(row.message_id);
          const raw = blob === undefined ? undefined : raws.get(blob);
          if (!raw || row.envelope === null) return { row, error: "its message is missing from storage" };
          return { row, raw, envelope: parse<{ from: string; to: string[] }>(row.envelope) };
        } catch (err) {
          return { row, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
  }

  private async composeAutoAck(row: OutboxRow, connection: OutboundConnection): Promise<SendJob> {
    const spec = parse<AutoAckCompose>(row.compose ?? "{}");
    const original = row.interaction_id ? await this.store.original(row.interaction_id) : undefined;
    if (!original) throw new Error(`the interaction of auto-acknowledgement ${row.id} is gone`);
    const now = this.now();
    const composed = await composeAutoAcknowledgement({
      template: { subject: spec.subject, text: spec.text },
      customerName: spec.customerName,
      customerAddress: spec.customerAddress,
      referenceNumber: spec.referenceNumber,
      original: originalOf(original, await this.store.threadMessageIds(original.thread_id)),
      from: { address: spec.fromAddress, displayName: "" },
      messageIdDomain: domainOf(spec.fromAddress),
      now,
      randomId,
    });
    const at = now.toISOString();
    const messageId = newId();
    const rawBlob = newId();
    const envelope = JSON.stringify(composed.envelope);
    await this.deps.db.transaction().execute(async (trx) => {
      const message = this.messageRow(messageId, connection.mailboxId, original.thread_id, composed, { address: spec.fromAddress, displayName: "" }, at, rawBlob, composed.text, undefined);
      await this.store.write(trx, [
        ...this.deps.blobs.inserts(trx, [{ id: rawBlob, data: composed.raw }]),
        trx.insertInto("messages").values({ ...message, flag_auto_reply: 1 }),
        trx.insertInto("thread_refs").values({ internet_message_id: this.deps.threadKey(composed.internetMessageId), thread_id: original.thread_id, message_id: messageId }),
        trx.updateTable("outbox").set({ message_id: messageId, envelope }).where("id", "=", row.id),
      ]);
    });
    return { row: { ...row, message_id: messageId, envelope }, raw: composed.raw, envelope: composed.envelope };
  }

  /**
   * Records how attempts went, many in one transaction (a transaction per email was most of the time
   * between two claims); each is fenced by its claim: a sender whose claim ran out changes nothing.
   */
  async finished(results: { job: { row: OutboxRow }; outcome: SendOutcome }[]): Promise<void> {
    if (results.length === 0) return;
    const at = this.now().toISOString();
    const changes = results.map(({ job: { row }, outcome }) => ({ row, outcome, change: changeOf(row, outcome, at) }));
    const recorded = await this.deps.db.transaction().execute(async (trx) => {
      const done: typeof changes = [];
      for (const item of changes) {
        if (!(await this.store.finish(trx, item.row, item.change))) continue;
        done.push(item);
        const { row, outcome, change } = item;
        if (row.interaction_id && change.state !== "queued") {
          const detail = outcome.sent ? { outboundId: row.id, response: outcome.response } : { outboundId: row.id, error: outcome.error };
          await this.store.recordHistory(trx, row.interaction_id, at, outcome.sent ? "sent" : "send_failed", detail);
        }
      }
      return done;
    });
    for (const { row, change } of recorded) this.deps.events.publish({ type: "outbound.updated", outboundId: row.id, interactionId: row.interaction_id, state: change.state });
  }

  nextDue(): Promise<string | null> {
    return this.store.nextDue();
  }
}
