import { sql, type Kysely } from "kysely";

/**
 * Names people type are unique regardless of case: "Sales" and "sales" are one queue, and
 * "Support@Acme.test" and "support@acme.test" are one From address in a folder.
 * Expression indexes work the same on SQLite and PostgreSQL.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const unique = [
    ["mailboxes_name_lower", "mailboxes", sql`lower(name)`],
    ["queues_name_lower", "queues", sql`lower(name)`],
    ["applications_name_lower", "applications", sql`lower(name)`],
    ["attribute_folders_name_lower", "attribute_folders", sql`lower(name)`],
    ["attribute_values_folder_name_lower", "attribute_values", sql`folder_id, lower(name)`],
  ] as const;
  for (const [name, table, expression] of unique) {
    await sql`create unique index ${sql.id(name)} on ${sql.id(table)} (${expression})`.execute(db);
  }
}
