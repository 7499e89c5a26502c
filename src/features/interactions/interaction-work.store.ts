import { sql, type Kysely } from "kysely";
import type { Database, InteractionState } from "../../db/schema.js";
import { newId } from "../../shared/ids.js";

/** Where an interaction stands: what a change of it is checked against. */
export interface WorkState {
  id: string;
  queue_id: string | null;
  agent_id: string | null;
  state: InteractionState;
  version: number;
}

export interface HistoryEntry {
  id: string;
  at: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  detail: string;
}

export interface QueueLoad {
  queue_id: string;
  name: string;
  waiting: number;
  oldest_waiting_at: string | null;
  assigned: number;
}

export interface AvailableAgent {
  id: string;
  capacity: number;
  load: number;
}

/**
 * The SQL of the work on interactions: every change is one conditional UPDATE that names the state it
 * expects, so of two agents accepting one interaction at once exactly one changes a row (PostgreSQL
 * re-checks the WHERE of the second after the first commits; SQLite runs one writer at a time).
 */
export class InteractionWorkStore {
  constructor(private readonly db: Kysely<Database>) {}

  state(db: Kysely<Database>, id: string): Promise<WorkState | undefined> {
    return db.selectFrom("interactions").select(["id", "queue_id", "agent_id", "state", "version"]).where("id", "=", id).executeTakeFirst();
  }

  /**
   * Gives a queued interaction to an agent, if it is still queued, in one of the agent's queues (unless
   * `anyQueue`), and the agent holds fewer than `capacity`. Answers whether it did.
   */
  async claim(db: Kysely<Database>, id: string, agentId: string, at: string, rules: { anyQueue: boolean; capacity: number }): Promise<boolean> {
    let q = db
      .updateTable("interactions")
      .set((eb) => ({ agent_id: agentId, state: "assigned", version: eb("version", "+", 1), updated_at: at }))
      .where("id", "=", id)
      .where("state", "=", sql.lit("queued"))
      .where((eb) =>
        eb(
          eb.selectFrom("interactions as held").select((e) => e.fn.countAll<number>().as("n")).where("held.agent_id", "=", agentId).where("held.state", "=", sql.lit("assigned")),
          "<",
          rules.capacity,
        ),
      );
    if (!rules.anyQueue) {
      q = q.where("queue_id", "in", (eb) => eb.selectFrom("queue_agents").select("queue_id").where("user_id", "=", agentId));
    }
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Moves the interaction as `change` says if it is still at `expected.version`; answers whether it did. */
  async move(
    db: Kysely<Database>,
    expected: WorkState,
    change: { queue_id: string | null; agent_id: string | null; state: InteractionState },
    at: string,
  ): Promise<boolean> {
    const result = await db
      .updateTable("interactions")
      .set({ ...change, version: expected.version + 1, updated_at: at })
      .where("id", "=", expected.id)
      .where("version", "=", expected.version)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async capacityOf(db: Kysely<Database>, userId: string): Promise<number> {
    const row = await db.selectFrom("users").select("capacity").where("id", "=", userId).executeTakeFirst();
    return Number(row?.capacity ?? 0);
  }

  async record(db: Kysely<Database>, interactionId: string, at: string, actorId: string | null, action: string, detail: Record<string, unknown>): Promise<void> {
    await db.insertInto("interaction_history").values({ id: newId(), interaction_id: interactionId, at, actor_id: actorId, action, detail: JSON.stringify(detail) }).execute();
  }

  history(interactionId: string): Promise<HistoryEntry[]> {
    return this.db
      .selectFrom("interaction_history as h")
      .leftJoin("users as u", "u.id", "h.actor_id")
      .select(["h.id", "h.at", "h.actor_id", "u.username as actor_name", "h.action", "h.detail"])
      .where("h.interaction_id", "=", interactionId)
      .orderBy("h.id")
      .limit(1_000)
      .execute();
  }

  /** The oldest queued interactions of the agent's queues (all queues with `anyQueue`), oldest first. */
  oldestQueued(agentId: string, anyQueue: boolean, limit: number): Promise<{ id: string }[]> {
    let q = this.db.selectFrom("interactions").select("id").where("state", "=", sql.lit("queued")).orderBy("id").limit(limit);
    if (!anyQueue) q = q.where("queue_id", "in", (eb) => eb.selectFrom("queue_agents").select("queue_id").where("user_id", "=", agentId));
    return q.execute();
  }

  /** Enabled, available users who work some queue, with how many interactions each holds, the least loaded first. */
  async availableAgents(): Promise<AvailableAgent[]> {
    const rows = await this.db
      .selectFrom("users as u")
      .select((eb) => [
        "u.id",
        "u.capacity",
        eb
          .selectFrom("interactions as i")
          .select((e) => e.fn.countAll<number>().as("n"))
          .whereRef("i.agent_id", "=", "u.id")
          .where("i.state", "=", sql.lit("assigned"))
          .as("load"),
      ])
      .where("u.available", "=", 1)
      .where("u.disabled", "=", 0)
      .where((eb) => eb.exists(eb.selectFrom("queue_agents as qa").select("qa.user_id").whereRef("qa.user_id", "=", "u.id")))
      .execute();
    return rows
      .map((r) => ({ id: r.id, capacity: Number(r.capacity), load: Number(r.load ?? 0) }))
      .sort((a, b) => a.load - b.load || (a.id < b.id ? -1 : 1));
  }

  /** Per queue: how many wait, since when the oldest, how many are held. */
  async queueLoads(): Promise<QueueLoad[]> {
    const rows = await this.db
      .selectFrom("queues as q")
      .leftJoin("interactions as i", (join) => join.onRef("i.queue_id", "=", "q.id").on("i.state", "in", ["queued", "assigned"]))
      .select((eb) => [
        "q.id as queue_id",
        "q.name",
        eb.fn.sum<number>(eb.case().when("i.state", "=", "queued").then(1).else(0).end()).as("waiting"),
        // a queued interaction last changed when it entered its queue (stored, or transferred there)
        eb.fn.min<string>(eb.case().when("i.state", "=", "queued").then(eb.ref("i.updated_at")).end()).as("oldest_waiting_at"),
        eb.fn.sum<number>(eb.case().when("i.state", "=", "assigned").then(1).else(0).end()).as("assigned"),
      ])
      .groupBy(["q.id", "q.name"])
      .orderBy("q.name")
      .execute();
    return rows.map((r) => ({ ...r, waiting: Number(r.waiting ?? 0), assigned: Number(r.assigned ?? 0), oldest_waiting_at: r.oldest_waiting_at ?? null }));
  }
}
