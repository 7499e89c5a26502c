import { sql, type ExpressionBuilder, type Kysely, type Selectable } from "kysely";
import { chunks } from "../../shared/chunks.js";
import type { Database, MailboxesTable, MailboxStatusTable } from "../../db/schema.js";

export type MailboxRow = Selectable<MailboxesTable>;

/** A mailbox row with what is derived from other tables: enabled (from applications) and status (from its runner). */
export interface MailboxRecord extends MailboxRow {
  enabled: boolean;
  status: { state: MailboxStatusTable["state"]; code: string | null; message: string | null; lastSyncAt: string | null; nodeId: string | null; nodeName: string | null } | null;
  /** what its runner set aside or could not do, newest first */
  warnings: MailboxWarning[];
}

export interface MailboxWarning {
  code: string;
  message: string;
  at: string;
}

/** Warnings kept per mailbox; older ones are dropped as new ones come. */
const warningsKept = 20;

export interface EnabledInboundRow extends MailboxRow {
  application_id: string;
  queue_id: string;
}

type Eb = ExpressionBuilder<Database & { m: MailboxesTable }, "m">;

/**
 * Enabled is never stored: a mailbox is enabled exactly while an enabled application lists it,
 * and the outbound mailbox while any enabled application exists. The link table belongs to
 * applications; reading it here keeps that rule in one query instead of two copies of the state.
 */
function enabledExpression(eb: Eb) {
  return eb.or([
    eb.and([
      eb("m.client_type", "=", "outbound"),
      eb.exists(eb.selectFrom("applications as a").select("a.id").where("a.enabled", "=", 1)),
    ]),
    eb.exists(
      eb
        .selectFrom("application_mailboxes as am")
        .innerJoin("applications as a", "a.id", "am.application_id")
        .select("am.mailbox_id")
        .whereRef("am.mailbox_id", "=", "m.id")
        .where("a.enabled", "=", 1),
    ),
  ]);
}

function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class MailboxesStore {
  constructor(private readonly db: Kysely<Database>) {}

  private records(db: Kysely<Database>) {
    return db
      .selectFrom("mailboxes as m")
      .leftJoin("mailbox_status as s", "s.mailbox_id", "m.id")
      .leftJoin("nodes as n", "n.id", "s.node_id")
      .selectAll("m")
      .select((eb) => [
        enabledExpression(eb).as("enabled_flag"),
        "s.state as status_state",
        "s.code as status_code",
        "s.message as status_message",
        "s.last_sync_at as status_last_sync_at",
        "s.node_id as status_node_id",
        "n.name as status_node_name",
      ]);
  }

  async list(filter: { clientType: "inbound" | "outbound" | "all"; q?: string | undefined }): Promise<MailboxRecord[]> {
    let query = this.records(this.db);
    if (filter.clientType !== "all") query = query.where("m.client_type", "=", filter.clientType);
    if (filter.q) {
      const pattern = likePattern(filter.q);
      query = query.where((eb) =>
        eb.or(
          (["m.name", "m.login", "m.host"] as const).map((column) => sql<boolean>`lower(${eb.ref(column)}) like ${pattern} escape '\\'`),
        ),
      );
    }
    // outbound first, as the reference lists them
    const rows = await query.orderBy("m.client_type", "desc").orderBy("m.name").execute();
    const warnings = await this.warningsOf(this.db, rows.map((r) => r.id));
    return rows.map((r) => toRecord(r, warnings.get(r.id) ?? []));
  }

  async byId(db: Kysely<Database>, id: string): Promise<MailboxRecord | undefined> {
    const row = await this.records(db).where("m.id", "=", id).executeTakeFirst();
    return row ? toRecord(row, (await this.warningsOf(db, [id])).get(id) ?? []) : undefined;
  }

  private async warningsOf(db: Kysely<Database>, ids: string[]): Promise<Map<string, MailboxWarning[]>> {
    const out = new Map<string, MailboxWarning[]>();
    for (const part of chunks(ids, 500)) {
      const rows = await db
        .selectFrom("mailbox_warnings")
        .select(["mailbox_id", "code", "message", "at"])
        .where("mailbox_id", "in", part)
        .orderBy("id", "desc")
        .execute();
      for (const r of rows) out.set(r.mailbox_id, [...(out.get(r.mailbox_id) ?? []), { code: r.code, message: r.message, at: r.at }]);
    }
    return out;
  }

  async addWarning(mailboxId: string, warning: MailboxWarning, id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("mailbox_warnings").values({ id, mailbox_id: mailboxId, ...warning }).execute();
      const keep = await trx
        .selectFrom("mailbox_warnings")
        .select("id")
        .where("mailbox_id", "=", mailboxId)
        .orderBy("id", "desc")
        .limit(warningsKept)
        .execute();
      if (keep.length === warningsKept) {
        await trx.deleteFrom("mailbox_warnings").where("mailbox_id", "=", mailboxId).where("id", "<", keep[keep.length - 1]!.id).execute();
      }
    });
  }

  async clearWarnings(trx: Kysely<Database>, mailboxId: string): Promise<number> {
    const result = await trx.deleteFrom("mailbox_warnings").where("mailbox_id", "=", mailboxId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async insert(trx: Kysely<Database>, row: MailboxRow): Promise<void> {
    await trx.insertInto("mailboxes").values(row).execute();
  }

  async update(trx: Kysely<Database>, id: string, changes: Partial<Omit<MailboxRow, "id">>): Promise<void> {
    await trx.updateTable("mailboxes").set(changes).where("id", "=", id).execute();
  }

  /** Updates the mailbox only while it is as it was read (`updatedAt`): false when someone changed it meanwhile. */
  async updateIfUnchanged(trx: Kysely<Database>, id: string, updatedAt: string, changes: Partial<Omit<MailboxRow, "id">>): Promise<boolean> {
    const result = await trx.updateTable("mailboxes").set(changes).where("id", "=", id).where("updated_at", "=", updatedAt).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Mailboxes with a secret sealed in the v1 format, which is bound to no mailbox. */
  withLegacySecrets(trx: Kysely<Database>): Promise<MailboxRow[]> {
    return trx
      .selectFrom("mailboxes")
      .selectAll()
      .where((eb) => eb.or([eb("password_sealed", "like", "v1:%"), eb("client_secret_sealed", "like", "v1:%")]))
      .orderBy("id")
      .execute();
  }

  /** Replaces a sealed secret only while it is still `from`: one typed again meanwhile is kept. */
  async replaceSealed(
    trx: Kysely<Database>,
    id: string,
    column: "password_sealed" | "client_secret_sealed",
    from: string,
    to: string,
  ): Promise<boolean> {
    const result = await trx
      .updateTable("mailboxes")
      .set(column === "password_sealed" ? { password_sealed: to } : { client_secret_sealed: to })
      .where("id", "=", id)
      .where(column, "=", from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Removes the mailbox and its place in any application's list (the caller checked it is disabled). */
  async delete(trx: Kysely<Database>, id: string): Promise<void> {
    await trx.deleteFrom("application_mailboxes").where("mailbox_id", "=", id).execute();
    await trx.deleteFrom("mailboxes").where("id", "=", id).execute();
  }

  async enabledIds(db: Kysely<Database>): Promise<Set<string>> {
    const rows = await db
      .selectFrom("mailboxes as m")
      .select("m.id")
      .where((eb) => enabledExpression(eb))
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  async clientTypes(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, MailboxRow["client_type"]>> {
    if (ids.length === 0) return new Map();
    const rows = await db.selectFrom("mailboxes").select(["id", "client_type"]).where("id", "in", ids).execute();
    return new Map(rows.map((r) => [r.id, r.client_type]));
  }

  /** The ids of the enabled inbound mailboxes of these types: what the nodes share out (cheap: no settings). */
  async enabledInboundIds(types: readonly MailboxRow["type"][]): Promise<string[]> {
    const rows = await this.db
      .selectFrom("mailboxes as m")
      .innerJoin("application_mailboxes as am", "am.mailbox_id", "m.id")
      .innerJoin("applications as a", "a.id", "am.application_id")
      .select("m.id")
      .where("a.enabled", "=", 1)
      .where("m.client_type", "=", "inbound")
      .where("m.type", "in", types)
      .execute();
    return rows.map((r) => r.id);
  }

  enabledInbound(): Promise<EnabledInboundRow[]> {
    return this.db
      .selectFrom("mailboxes as m")
      .innerJoin("application_mailboxes as am", "am.mailbox_id", "m.id")
      .innerJoin("applications as a", "a.id", "am.application_id")
      .selectAll("m")
      .select(["a.id as application_id", "a.queue_id"])
      .where("a.enabled", "=", 1)
      .where("m.client_type", "=", "inbound")
      .orderBy("m.name")
      .execute();
  }

  outbound(): Promise<MailboxRow | undefined> {
    return this.db.selectFrom("mailboxes").selectAll().where("client_type", "=", "outbound").executeTakeFirst();
  }

  async inboundLogins(): Promise<string[]> {
    const rows = await this.db.selectFrom("mailboxes").select("login").where("client_type", "=", "inbound").execute();
    return rows.map((r) => r.login);
  }

  async upsertStatus(row: Selectable<MailboxStatusTable>, db: Kysely<Database> = this.db): Promise<void> {
    const { mailbox_id: _id, ...changes } = row;
    await db
      .insertInto("mailbox_status")
      .values(row)
      .onConflict((oc) => oc.column("mailbox_id").doUpdateSet(changes))
      .execute();
  }
}

function toRecord(
  row: MailboxRow & {
    enabled_flag: unknown;
    status_state: MailboxStatusTable["state"] | null;
    status_code: string | null;
    status_message: string | null;
    status_last_sync_at: string | null;
    status_node_id: string | null;
    status_node_name: string | null;
  },
  warnings: MailboxWarning[],
): MailboxRecord {
  const { enabled_flag, status_state, status_code, status_message, status_last_sync_at, status_node_id, status_node_name, ...mailbox } = row;
  return {
    ...mailbox,
    // SQLite answers 0/1, PostgreSQL true/false
    enabled: enabled_flag === true || enabled_flag === 1,
    status: status_state ? { state: status_state, code: status_code, message: status_message, lastSyncAt: status_last_sync_at, nodeId: status_node_id, nodeName: status_node_name }
      : null,
    warnings,
  };
}
