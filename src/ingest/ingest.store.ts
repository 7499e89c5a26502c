import type { Kysely } from "kysely";
import type { FolderCursor } from "../connectors/mail-source.js";
import type { Database } from "../db/schema.js";

/** SQL for what Mailroom has taken from each mailbox: source keys, their acknowledgement, folder cursors. */
export class SourceStateStore {
  constructor(private readonly db: Kysely<Database>) {}

  async isStored(trx: Kysely<Database>, mailboxId: string, sourceKey: string): Promise<boolean> {
    const row = await trx
      .selectFrom("mail_sources")
      .select("source_key")
      .where("mailbox_id", "=", mailboxId)
      .where("source_key", "=", sourceKey)
      .executeTakeFirst();
    return row !== undefined;
  }

  async record(trx: Kysely<Database>, mailboxId: string, sourceKey: string, interactionId: string, at: string): Promise<void> {
    await trx
      .insertInto("mail_sources")
      .values({ mailbox_id: mailboxId, source_key: sourceKey, interaction_id: interactionId, acked: 0, created_at: at })
      .execute();
  }

  async knownKeys(mailboxId: string, keys: string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await this.db
        .selectFrom("mail_sources")
        .select("source_key")
        .where("mailbox_id", "=", mailboxId)
        .where("source_key", "in", keys.slice(i, i + 500))
        .execute();
      for (const r of rows) known.add(r.source_key);
    }
    return known;
  }

  async unackedKeys(mailboxId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("mail_sources")
      .select("source_key")
      .where("mailbox_id", "=", mailboxId)
      .where("acked", "=", 0)
      .limit(10_000)
      .execute();
    return rows.map((r) => r.source_key);
  }

  async markAcked(mailboxId: string, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 500) {
      await this.db
        .updateTable("mail_sources")
        .set({ acked: 1 })
        .where("mailbox_id", "=", mailboxId)
        .where("source_key", "in", keys.slice(i, i + 500))
        .execute();
    }
  }

  async loadCursor(mailboxId: string, folder: string): Promise<FolderCursor | null> {
    const row = await this.db
      .selectFrom("mail_sync_state")
      .selectAll()
      .where("mailbox_id", "=", mailboxId)
      .where("folder", "=", folder)
      .executeTakeFirst();
    return row ? { folder, uidValidity: row.uidvalidity, lastUid: Number(row.last_uid) } : null;
  }

  async saveCursor(trx: Kysely<Database>, mailboxId: string, cursor: FolderCursor, at: string): Promise<void> {
    await trx
      .insertInto("mail_sync_state")
      .values({ mailbox_id: mailboxId, folder: cursor.folder, uidvalidity: cursor.uidValidity, last_uid: cursor.lastUid, updated_at: at })
      .onConflict((oc) =>
        oc.columns(["mailbox_id", "folder"]).doUpdateSet({ uidvalidity: cursor.uidValidity, last_uid: cursor.lastUid, updated_at: at }),
      )
      .execute();
  }
}
