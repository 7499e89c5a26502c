import type { Kysely, Selectable } from "kysely";
import type { Database, QueuesTable } from "../../db/schema.js";

export type QueueRow = Selectable<QueuesTable>;

export class QueuesStore {
  constructor(private readonly db: Kysely<Database>) {}

  list(): Promise<QueueRow[]> {
    return this.db.selectFrom("queues").selectAll().orderBy("name").execute();
  }

  byId(db: Kysely<Database>, id: string): Promise<QueueRow | undefined> {
    return db.selectFrom("queues").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async insert(trx: Kysely<Database>, row: QueueRow): Promise<void> {
    await trx.insertInto("queues").values(row).execute();
  }
}
