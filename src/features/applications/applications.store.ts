import type { Kysely, Selectable } from "kysely";
import type { ApplicationsTable, Database } from "../../db/schema.js";

export type ApplicationRow = Selectable<ApplicationsTable>;
export interface ApplicationRecord extends ApplicationRow {
  mailboxIds: string[];
}

export class ApplicationsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<ApplicationRecord[]> {
    const apps = await this.db.selectFrom("applications").selectAll().orderBy("name").execute();
    const links = await this.db.selectFrom("application_mailboxes").selectAll().orderBy("mailbox_id").execute();
    return apps.map((a) => ({ ...a, mailboxIds: links.filter((l) => l.application_id === a.id).map((l) => l.mailbox_id) }));
  }

  async byId(db: Kysely<Database>, id: string): Promise<ApplicationRecord | undefined> {
    const app = await db.selectFrom("applications").selectAll().where("id", "=", id).executeTakeFirst();
    if (!app) return undefined;
    const links = await db.selectFrom("application_mailboxes").select("mailbox_id").where("application_id", "=", id).orderBy("mailbox_id").execute();
    return { ...app, mailboxIds: links.map((l) => l.mailbox_id) };
  }

  async insert(trx: Kysely<Database>, row: ApplicationRow): Promise<void> {
    await trx.insertInto("applications").values(row).execute();
  }

  async update(trx: Kysely<Database>, id: string, changes: Partial<Omit<ApplicationRow, "id">>): Promise<void> {
    await trx.updateTable("applications").set(changes).where("id", "=", id).execute();
  }

  async delete(trx: Kysely<Database>, id: string): Promise<void> {
    await trx.deleteFrom("application_mailboxes").where("application_id", "=", id).execute();
    await trx.deleteFrom("applications").where("id", "=", id).execute();
  }

  async setMailboxes(trx: Kysely<Database>, applicationId: string, mailboxIds: readonly string[]): Promise<void> {
    await trx.deleteFrom("application_mailboxes").where("application_id", "=", applicationId).execute();
    if (mailboxIds.length === 0) return;
    await trx
      .insertInto("application_mailboxes")
      .values(mailboxIds.map((mailbox_id) => ({ application_id: applicationId, mailbox_id })))
      .execute();
  }

  /** Of these mailboxes, the ones another application lists, with that application's name. */
  assignedElsewhere(mailboxIds: readonly string[], applicationId: string | null): Promise<{ mailbox_id: string; name: string }[]> {
    if (mailboxIds.length === 0) return Promise.resolve([]);
    let q = this.db
      .selectFrom("application_mailboxes as am")
      .innerJoin("applications as a", "a.id", "am.application_id")
      .select(["am.mailbox_id", "a.name"])
      .where("am.mailbox_id", "in", mailboxIds);
    if (applicationId) q = q.where("a.id", "!=", applicationId);
    return q.execute();
  }
}
