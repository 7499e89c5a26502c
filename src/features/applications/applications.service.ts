import type { Kysely } from "kysely";
import { uniqueViolation } from "../../db/constraint-errors.js";
import type { Database } from "../../db/schema.js";
import { AppError, type FieldProblem } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { MailboxesService } from "../mailboxes/mailboxes.service.js";
import type { QueuesService } from "../queues/queues.service.js";
import type {
  ApplicationView,
  AutoAcknowledgeInput,
  CreateApplicationInput,
  PatchApplicationInput,
} from "./applications.schema.js";
import { ApplicationsStore, type ApplicationRecord, type ApplicationRow } from "./applications.store.js";

function toView(r: ApplicationRecord): ApplicationView {
  const view: ApplicationView = {
    id: r.id,
    name: r.name,
    enabled: r.enabled === 1,
    mailboxIds: r.mailboxIds,
    queueId: r.queue_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.auto_ack_enabled === 1 || r.auto_ack_subject !== null || r.auto_ack_text !== null) {
    view.autoAcknowledge = { enabled: r.auto_ack_enabled === 1, subject: r.auto_ack_subject ?? "", text: r.auto_ack_text ?? "" };
  }
  return view;
}

function autoAckColumns(a: AutoAcknowledgeInput | null) {
  return a
    ? { auto_ack_enabled: a.enabled ? 1 : 0, auto_ack_subject: a.subject, auto_ack_text: a.text }
    : { auto_ack_enabled: 0, auto_ack_subject: null, auto_ack_text: null };
}

/**
 * The "Digital application" of the reference: it routes the mail of its inbound mailboxes to a
 * queue, and enabling it is what enables those mailboxes (and the outbound one).
 */
export class ApplicationsService {
  readonly store: ApplicationsStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly mailboxes: MailboxesService,
    private readonly queues: QueuesService,
  ) {
    this.store = new ApplicationsStore(db);
  }

  async list(): Promise<ApplicationView[]> {
    return (await this.store.list()).map(toView);
  }

  async get(id: string): Promise<ApplicationView> {
    const record = await this.store.byId(this.db, id);
    if (!record) throw AppError.notFound("The application");
    return toView(record);
  }

  async create(actor: Actor, input: CreateApplicationInput): Promise<ApplicationView> {
    const now = this.clock.now().toISOString();
    const row: ApplicationRow = {
      id: newId(),
      name: input.name,
      enabled: input.enabled ? 1 : 0,
      queue_id: input.queueId,
      ...autoAckColumns(input.autoAcknowledge ?? null),
      created_at: now,
      updated_at: now,
    };
    const mailboxIds = input.mailboxIds ?? [];
    await this.changeEnablement(actor, "application.create", row.id, mailboxIds, async (trx) => {
      await this.validate(trx, { queueId: input.queueId, mailboxIds, autoAcknowledge: input.autoAcknowledge });
      await this.store.insert(trx, row);
      await this.store.setMailboxes(trx, row.id, mailboxIds);
      await this.audit.record(trx, actor, "application.create", { type: "application", id: row.id }, { ...input });
      return row.name;
    });
    return this.get(row.id);
  }

  async update(actor: Actor, id: string, patch: PatchApplicationInput): Promise<ApplicationView> {
    await this.changeEnablement(actor, "application.update", id, patch.mailboxIds ?? [], async (trx) => {
      const current = await this.store.byId(trx, id);
      if (!current) throw AppError.notFound("The application");
      await this.validate(trx, { queueId: patch.queueId, mailboxIds: patch.mailboxIds, autoAcknowledge: patch.autoAcknowledge ?? undefined });
      await this.store.update(trx, id, {
        ...(patch.name === undefined ? {} : { name: patch.name }),
        ...(patch.enabled === undefined ? {} : { enabled: patch.enabled ? 1 : 0 }),
        ...(patch.queueId === undefined ? {} : { queue_id: patch.queueId }),
        ...(patch.autoAcknowledge === undefined ? {} : autoAckColumns(patch.autoAcknowledge)),
        updated_at: this.clock.now().toISOString(),
      });
      if (patch.mailboxIds) await this.store.setMailboxes(trx, id, patch.mailboxIds);
      await this.audit.record(trx, actor, "application.update", { type: "application", id }, { ...patch });
      return patch.name ?? current.name;
    });
    return this.get(id);
  }

  async remove(actor: Actor, id: string): Promise<void> {
    await this.changeEnablement(actor, "application.delete", id, [], async (trx) => {
      const current = await this.store.byId(trx, id);
      if (!current) throw AppError.notFound("The application");
      await this.store.delete(trx, id);
      await this.audit.record(trx, actor, "application.delete", { type: "application", id }, { name: current.name, mailboxIds: current.mailboxIds });
      return current.name;
    });
  }

  /**
   * Runs `change` in a transaction that also audits every mailbox it enables or disables, then
   * tells the mailbox runners. Maps the one-application-per-mailbox and unique-name constraints to 409s.
   */
  private async changeEnablement(
    actor: Actor,
    cause: string,
    applicationId: string,
    mailboxIds: readonly string[],
    /** makes the change and returns the application's name */
    change: (trx: Kysely<Database>) => Promise<string>,
  ): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        const before = await this.mailboxes.enabledIds(trx);
        const application = { id: applicationId, name: await change(trx) };
        const after = await this.mailboxes.enabledIds(trx);
        for (const id of after) {
          if (!before.has(id)) await this.audit.record(trx, actor, "mailbox.enable", { type: "mailbox", id }, { cause, application });
        }
        for (const id of before) {
          if (!after.has(id)) await this.audit.record(trx, actor, "mailbox.disable", { type: "mailbox", id }, { cause, application });
        }
      });
    } catch (err) {
      const violated = uniqueViolation(err);
      if (violated === null) throw err;
      if (/mailbox_id/.test(violated)) throw await this.assignedError(mailboxIds, applicationId);
      throw new AppError("name_taken", "An application with this name already exists; choose another name.", [
        { path: "name", message: "An application with this name already exists; choose another name." },
      ]);
    }
    this.mailboxes.notifyChanged();
  }

  private async assignedError(mailboxIds: readonly string[], applicationId: string): Promise<AppError> {
    const taken = await this.store.assignedElsewhere(mailboxIds, applicationId);
    const details = taken.map((t) => ({
      path: `mailboxIds.${mailboxIds.indexOf(t.mailbox_id)}`,
      message: `is already listed by the application "${t.name}"`,
    }));
    const names = [...new Set(taken.map((t) => `"${t.name}"`))].join(", ");
    return new AppError(
      "mailbox_assigned",
      `An inbound mailbox feeds one application; ${names || "another application"} already lists it. Remove it there first.`,
      details,
    );
  }

  private async validate(
    trx: Kysely<Database>,
    input: { queueId: string | undefined; mailboxIds: readonly string[] | undefined; autoAcknowledge: AutoAcknowledgeInput | undefined },
  ): Promise<void> {
    const problems: FieldProblem[] = [];
    if (input.queueId !== undefined && !(await this.queues.exists(input.queueId, trx))) {
      problems.push({ path: "queueId", message: "No queue has this id; create the queue first" });
    }
    const ids = input.mailboxIds ?? [];
    const kinds = await this.mailboxes.clientTypes(trx, ids);
    ids.forEach((id, i) => {
      const path = `mailboxIds.${i}`;
      if (ids.indexOf(id) !== i) problems.push({ path, message: "is listed twice" });
      else if (!kinds.has(id)) problems.push({ path, message: "No mailbox has this id" });
      else if (kinds.get(id) === "outbound") problems.push({ path, message: "is the outbound mailbox; an application lists inbound mailboxes" });
    });
    const ack = input.autoAcknowledge;
    if (ack?.enabled) {
      if (!ack.subject) problems.push({ path: "autoAcknowledge.subject", message: "Enter the subject of the automatic acknowledgement" });
      if (!ack.text.trim()) problems.push({ path: "autoAcknowledge.text", message: "Enter the text of the automatic acknowledgement" });
    }
    if (problems.length > 0) throw new AppError("invalid_input", problems.map((p) => `${p.path}: ${p.message}`).join("; "), problems);
  }
}
