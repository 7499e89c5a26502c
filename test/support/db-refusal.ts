import { sql } from "kysely";
import type { Db } from "../../src/db/database.js";

/**
 * Makes the database itself refuse rows: a trigger that raises when `table.column` is inserted with a
 * value containing `value`, the way a value too long for an index or a character the database does not store is
 * refused. Real database behaviour on both dialects, no stand-in.
 */
export async function refuseInserts(db: Db, table: string, column: string, value: string): Promise<void> {
  const name = `mr_refuse_${table}_${column}`;
  if (db.dialect === "sqlite") {
    await sql
      .raw(`create trigger ${name} before insert on ${table} when new.${column} like '%${value.replace(/'/g, "''")}%' begin select raise(abort, 'refused by the test trigger'); end`)
      .execute(db.kysely);
    return;
  }
  await sql
    .raw(
      `create function ${name}() returns trigger language plpgsql as $$ begin ` +
        `if new.${column} like '%${value.replace(/'/g, "''")}%' then raise exception 'refused by the test trigger' using errcode = 'check_violation'; end if; ` +
        `return new; end $$`,
    )
    .execute(db.kysely);
  await sql.raw(`create trigger ${name} before insert on ${table} for each row execute function ${name}()`).execute(db.kysely);
}
