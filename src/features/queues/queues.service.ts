import type { Kysely } from "kysely";
import { uniqueViolation } from "../../db/constraint-errors.js";
import type { Database } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { UsersService } from "../users/users.service.js";
import type { QueueView } from "./queues.schema.js";
import { QueuesStore } from "./queues.store.js";

export class QueuesService {
  readonly store: QueuesStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly users: UsersService,
  ) {
    this.store = new QueuesStore(db);
  }

  /** The users who work the queue: they see and accept its interactions. */
  async agents(queueId: string): Promise<string[]> {
    if (!(await this.exists(queueId))) throw AppError.notFound("Queue");
    return this.store.agentsOf(queueId);
  }

  async setAgents(actor: Actor, queueId: string, userIds: string[]): Promise<string[]> {
    const unique = [...new Set(userIds)].sort();
    await this.db.transaction().execute(async (trx) => {
      if (!(await this.exists(queueId, trx))) throw AppError.notFound("Queue");
      const known = await this.users.enabledIds(unique, trx);
      const problems = unique.flatMap((id, i) => (known.has(id) ? [] : [{ path: `userIds.${i}`, message: `${id} is not an enabled user` }]));
      if (problems.length) throw new AppError("invalid_input", "Every queue agent must be an enabled user: see GET /api/v1/users.", problems);
      await this.store.setAgents(trx, queueId, unique);
      await this.audit.record(trx, actor, "queue.agents", { type: "queue", id: queueId }, { userIds: unique });
    });
    return unique;
  }

  /** The queues a user works. */
  queuesOf(userId: string): Promise<string[]> {
    return this.store.queuesOf(userId);
  }

  async list(): Promise<QueueView[]> {
    return (await this.store.list()).map((q) => ({ id: q.id, name: q.name }));
  }

  /** Whether the queue exists, read through `db` (a caller's transaction, or the pool). */
  async exists(id: string, db: Kysely<Database> = this.db): Promise<boolean> {
    return (await this.store.byId(db, id)) !== undefined;
  }

  async create(actor: Actor, input: { name: string }): Promise<QueueView> {
    const row = { id: newId(), name: input.name, created_at: this.clock.now().toISOString() };
    try {
      await this.db.transaction().execute(async (trx) => {
        await this.store.insert(trx, row);
        await this.audit.record(trx, actor, "queue.create", { type: "queue", id: row.id }, { name: row.name });
      });
    } catch (err) {
      if (uniqueViolation(err) !== null) {
        throw new AppError("name_taken", `A queue named "${input.name}" already exists.`, [{ path: "name", message: `A queue named "${input.name}" already exists; choose another name.` }]);
      }
      throw err;
    }
    return { id: row.id, name: row.name };
  }
}
