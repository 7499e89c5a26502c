import type { Kysely } from "kysely";
import { uniqueViolation } from "../../db/constraint-errors.js";
import type { Database } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { QueuesService } from "../queues/queues.service.js";
import type { RouteView, RoutingSettings } from "./routing.schema.js";
import { RoutingStore, type RouteRow } from "./routing.store.js";

function present(row: RouteRow): RouteView {
  return { id: row.id, pattern: row.pattern, queueId: row.queue_id, priority: Number(row.priority), createdAt: row.created_at, updatedAt: row.updated_at };
}

/**
 * Inbound routes and the Route to Multiple Destinations setting. Every change takes effect with the next
 * message stored, on every node, without touching a mailbox connection: it changes the version of the
 * rules that ingestion checks in each transaction.
 */
export class RoutingService {
  readonly store: RoutingStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly queues: QueuesService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {
    this.store = new RoutingStore(db);
  }

  async list(): Promise<RouteView[]> {
    return (await this.store.list()).map(present);
  }

  private async checkQueue(trx: Kysely<Database>, queueId: string): Promise<void> {
    if (!(await this.queues.exists(queueId, trx))) throw AppError.invalid("queueId", "There is no queue with this id: choose one of GET /api/v1/queues.");
  }

  private async write<T>(work: (trx: Kysely<Database>, at: string) => Promise<T>, pattern?: string): Promise<T> {
    const at = this.clock.now().toISOString();
    try {
      return await this.db.transaction().execute(async (trx) => {
        const result = await work(trx, at);
        await this.store.touchRules(trx, at);
        return result;
      });
    } catch (err) {
      if (uniqueViolation(err) !== null) {
        throw new AppError("route_exists", `A route for ${pattern ?? "this pattern"} to this queue exists already.`, [{ path: "pattern", message: "has a route to this queue" }]);
      }
      throw err;
    }
  }

  async create(actor: Actor, input: { pattern: string; queueId: string; priority: number }): Promise<RouteView> {
    return this.write(async (trx, at) => {
      await this.checkQueue(trx, input.queueId);
      const row: RouteRow = { id: newId(), pattern: input.pattern, queue_id: input.queueId, priority: input.priority, created_at: at, updated_at: at };
      await this.store.insert(trx, row);
      await this.audit.record(trx, actor, "route.create", { type: "route", id: row.id }, { pattern: row.pattern, queueId: row.queue_id, priority: row.priority });
      return present(row);
    }, input.pattern);
  }

  async update(actor: Actor, id: string, input: { pattern?: string | undefined; queueId?: string | undefined; priority?: number | undefined }): Promise<RouteView> {
    return this.write(async (trx, at) => {
      const row = await this.store.byId(trx, id);
      if (!row) throw AppError.notFound("Route");
      if (input.queueId !== undefined) await this.checkQueue(trx, input.queueId);
      const changes = {
        ...(input.pattern !== undefined ? { pattern: input.pattern } : {}),
        ...(input.queueId !== undefined ? { queue_id: input.queueId } : {}),
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
      };
      await this.store.update(trx, id, { ...changes, updated_at: at });
      await this.audit.record(trx, actor, "route.update", { type: "route", id }, input);
      return present({ ...row, ...changes, updated_at: at });
    }, input.pattern);
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await this.write(async (trx) => {
      const row = await this.store.byId(trx, id);
      if (!row) throw AppError.notFound("Route");
      await this.store.delete(trx, id);
      await this.audit.record(trx, actor, "route.delete", { type: "route", id }, { pattern: row.pattern, queueId: row.queue_id });
    });
  }

  async settings(): Promise<RoutingSettings> {
    const value = await this.store.setting(this.db, "routing");
    const parsed = value ? (JSON.parse(value) as Partial<RoutingSettings>) : {};
    return { routeToMultipleDestinations: parsed.routeToMultipleDestinations === true };
  }

  async saveSettings(actor: Actor, input: RoutingSettings): Promise<RoutingSettings> {
    await this.write(async (trx, at) => {
      await this.store.saveSetting(trx, "routing", JSON.stringify(input), at);
      await this.audit.record(trx, actor, "settings.routing", { type: "settings", id: "routing" }, input);
    });
    return input;
  }
}
