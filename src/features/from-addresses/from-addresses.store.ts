import type { Kysely, Selectable } from "kysely";
import type { AttributeFoldersTable, AttributeValuesTable, Database } from "../../db/schema.js";

export type FolderRow = Selectable<AttributeFoldersTable>;
export type ValueRow = Selectable<AttributeValuesTable>;

export class FromAddressesStore {
  constructor(private readonly db: Kysely<Database>) {}

  folders(): Promise<FolderRow[]> {
    return this.db.selectFrom("attribute_folders").selectAll().orderBy("name").execute();
  }

  folderById(db: Kysely<Database>, id: string): Promise<FolderRow | undefined> {
    return db.selectFrom("attribute_folders").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async insertFolder(trx: Kysely<Database>, row: FolderRow): Promise<void> {
    await trx.insertInto("attribute_folders").values(row).execute();
  }

  /** In the order they were added: agents see the folder's addresses as the admin entered them. */
  values(folderId: string): Promise<ValueRow[]> {
    return this.db.selectFrom("attribute_values").selectAll().where("folder_id", "=", folderId).orderBy("id").execute();
  }

  allValueNames(): Promise<string[]> {
    return this.db
      .selectFrom("attribute_values")
      .select("name")
      .execute()
      .then((rows) => rows.map((r) => r.name));
  }

  async insertValue(trx: Kysely<Database>, row: ValueRow): Promise<void> {
    await trx.insertInto("attribute_values").values(row).execute();
  }

  valueById(db: Kysely<Database>, folderId: string, valueId: string): Promise<ValueRow | undefined> {
    return db
      .selectFrom("attribute_values")
      .selectAll()
      .where("folder_id", "=", folderId)
      .where("id", "=", valueId)
      .executeTakeFirst();
  }

  async deleteValue(trx: Kysely<Database>, valueId: string): Promise<void> {
    await trx.deleteFrom("attribute_values").where("id", "=", valueId).execute();
  }
}
