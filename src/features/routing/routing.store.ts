import type { Kysely, Selectable } from "kysely";
import type { Database, RoutesTable } from "../../db/schema.js";
import { newId } from "../../shared/ids.js";

export type RouteRow = Selectable<RoutesTable>;

/** The SQL of inbound routes and routing settings (ingestion reads them in its own transaction, ingest.store.ts). */
export class RoutingStore {
  constructor(private readonly db: Kysely<Database>) {}

  list(): Promise<RouteRow[]> {
    return this.db.selectFrom("routes").selectAll().orderBy("priority").orderBy("id").execute();
  }

  byId(db: Kysely<Database>, id: string): Promise<RouteRow | undefined> {
    return db.selectFrom("routes").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async insert(trx: Kysely<Database>, row: RouteRow): Promise<void> {
    await trx.insertInto("routes").values(row).execute();
  }

  async update(trx: Kysely<Database>, id: string, changes: Partial<Pick<RouteRow, "pattern" | "queue_id" | "priority" | "updated_at">>): Promise<void> {
    await trx.updateTable("routes").set(changes).where("id", "=", id).execute();
  }

  async delete(trx: Kysely<Database>, id: string): Promise<void> {
    await trx.deleteFrom("routes").where("id", "=", id).execute();
  }

  async setting(db: Kysely<Database>, name: string): Promise<string | undefined> {
    return (await db.selectFrom("settings").select("value").where("name", "=", name).executeTakeFirst())?.value;
  }

  async saveSetting(trx: Kysely<Database>, name: string, value: string, at: string): Promise<void> {
    await trx
      .insertInto("settings")
      .values({ name, value, updated_at: at })
      .onConflict((oc) => oc.column("name").doUpdateSet({ value, updated_at: at }))
      .execute();
  }

  /** A new version of the routing rules, in the transaction that changes them: ingestion reads them again. */
  async touchRules(trx: Kysely<Database>, at: string): Promise<void> {
    await this.saveSetting(trx, "routing.version", newId(), at);
  }
}
