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

  async agentsOf(queueId: string): Promise<string[]> {
    const rows = await this.db.selectFrom("queue_agents").select("user_id").where("queue_id", "=", queueId).orderBy("user_id").execute();
    return rows.map((r) => r.user_id);
  }

  async setAgents(trx: Kysely<Database>, queueId: string, userIds: string[]): Promise<void> {
    await trx.deleteFrom("queue_agents").where("queue_id", "=", queueId).execute();
    if (userIds.length) await trx.insertInto("queue_agents").values(userIds.map((user_id) => ({ queue_id: queueId, user_id }))).execute();
  }

  /** The queues a user works. */
  async queuesOf(userId: string): Promise<string[]> {
    const rows = await this.db.selectFrom("queue_agents").select("queue_id").where("user_id", "=", userId).execute();
    return rows.map((r) => r.queue_id);
  }
}
