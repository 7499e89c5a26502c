import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import type { EventBus } from "../../shared/event-bus.js";
import type { Role } from "../../shared/roles.js";
import type { QueuesService } from "../queues/queues.service.js";
import type { UsersService } from "../users/users.service.js";
import { InteractionWorkStore, type WorkState } from "./interaction-work.store.js";
import type { HistoryView, InteractionView, QueueStatsView } from "./interactions.schema.js";
import type { InteractionsService } from "./interactions.service.js";

export interface Caller {
  userId: string;
  username: string;
  role: Role;
}

/** Admins and supervisors work every queue; agents theirs. */
const seesAll = (caller: Caller) => caller.role !== "agent";

/**
 * The agent's work on interactions: accept (a chosen one or the oldest waiting), transfer, done, and the
 * offering of waiting work to available agents up to their capacity. Every change is a conditional
 * update in one transaction with its history line, announced on the event stream after it commits.
 */
export class InteractionWorkService {
  readonly store: InteractionWorkStore;
  #offering: Promise<number> | null = null;
  #offerAgain = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly interactions: InteractionsService,
    private readonly queues: QueuesService,
    private readonly users: UsersService,
    private readonly events: EventBus,
    private readonly clock: Clock,
  ) {
    this.store = new InteractionWorkStore(db);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private announce(after: WorkState & { action: string }): void {
    this.events.publish({ type: "interaction.updated", interactionId: after.id, state: after.state, queueId: after.queue_id, agentId: after.agent_id, action: after.action });
  }

  /** Why a claim did not change the interaction, as the error the caller gets. */
  private async refusal(caller: Caller, id: string): Promise<AppError> {
    const current = await this.store.state(this.db, id);
    if (!current || !(await this.interactions.visible(caller, current))) return AppError.notFound("Interaction");
    if (current.state === "assigned") {
      return new AppError("already_assigned", current.agent_id === caller.userId ? "You hold this interaction already." : "Another agent has accepted this interaction.");
    }
    if (current.state === "done") return new AppError("conflict", "This interaction is done.");
    if (!seesAll(caller) && !(await this.interactions.store.worksQueue(caller.userId, current.queue_id))) {
      return new AppError("forbidden", "This interaction waits in a queue you do not work.");
    }
    return new AppError("at_capacity", "You hold as many interactions as your capacity allows: finish one first.");
  }

  /**
   * Gives a queued interaction to an agent, under the agent's capacity, with its history line, and
   * announces it; null when it is no longer queued, not in the agent's queues (unless `anyQueue`), or
   * the agent is at capacity. Accepting, accepting the next one and offering all go through here.
   */
  private async take(
    id: string,
    agentId: string,
    anyQueue: boolean,
    line: { actorId: string | null; action: "accepted" | "offered"; detail: Record<string, unknown> },
  ): Promise<WorkState | null> {
    const at = this.now();
    const taken = await this.db.transaction().execute(async (trx) => {
      const capacity = await this.store.capacityOf(trx, agentId);
      if (!(await this.store.claim(trx, id, agentId, at, { anyQueue, capacity }))) return null;
      await this.store.record(trx, id, at, line.actorId, line.action, line.detail);
      return this.store.state(trx, id);
    });
    if (taken) this.announce({ ...taken, action: line.action });
    return taken ?? null;
  }

  /** The caller takes this queued interaction. */
  async accept(caller: Caller, id: string): Promise<InteractionView> {
    const taken = await this.take(id, caller.userId, seesAll(caller), { actorId: caller.userId, action: "accepted", detail: {} });
    if (!taken) throw await this.refusal(caller, id);
    return this.interactions.one(taken.id);
  }

  /** The caller takes the oldest interaction waiting in their queues; null when none waits. */
  async acceptNext(caller: Caller): Promise<InteractionView | null> {
    // another agent may take a candidate first: then the next one
    for (let round = 0; round < 5; round++) {
      const candidates = await this.store.oldestQueued(caller.userId, seesAll(caller), 10);
      if (candidates.length === 0) return null;
      for (const { id } of candidates) {
        const taken = await this.take(id, caller.userId, seesAll(caller), { actorId: caller.userId, action: "accepted", detail: { next: true } });
        if (taken) return this.interactions.one(taken.id);
        const error = await this.refusal(caller, id);
        if (error.code === "at_capacity") throw error;
      }
    }
    return null;
  }

  /** Changes an interaction the caller may change (the holder's, or any for admins and supervisors). */
  private async change(
    caller: Caller,
    id: string,
    action: string,
    next: (current: WorkState, trx: Kysely<Database>) => Promise<{ queue_id: string | null; agent_id: string | null; state: WorkState["state"]; detail: Record<string, unknown> }>,
  ): Promise<InteractionView> {
    const at = this.now();
    const after = await this.db.transaction().execute(async (trx) => {
      const current = await this.store.state(trx, id);
      if (!current || !(await this.interactions.visible(caller, current))) throw AppError.notFound("Interaction");
      if (current.state === "done") throw new AppError("conflict", "This interaction is done.");
      if (!seesAll(caller) && current.agent_id !== caller.userId) throw new AppError("forbidden", "Only the agent who holds this interaction, a supervisor or an admin can do this.");
      const { detail, ...change } = await next(current, trx);
      if (!(await this.store.move(trx, current, change, at))) throw new AppError("conflict", "The interaction changed meanwhile: load it again.");
      await this.store.record(trx, id, at, caller.userId, action, { from: { queueId: current.queue_id, agentId: current.agent_id, state: current.state }, ...detail });
      return { ...current, ...change, version: current.version + 1 };
    });
    this.announce({ ...after, action });
    if (after.state !== "assigned") this.offerSoon();
    return this.interactions.one(id);
  }

  transfer(caller: Caller, id: string, to: { queueId?: string | undefined; agentId?: string | undefined }): Promise<InteractionView> {
    return this.change(caller, id, "transferred", async (current, trx) => {
      if (to.queueId !== undefined) {
        if (!(await this.queues.exists(to.queueId, trx))) throw AppError.invalid("queueId", "There is no queue with this id: choose one of GET /api/v1/queues.");
        return { queue_id: to.queueId, agent_id: null, state: "queued", detail: { to: { queueId: to.queueId } } };
      }
      const agentId = to.agentId!;
      if (!(await this.users.enabledIds([agentId], trx)).has(agentId)) throw AppError.invalid("agentId", "There is no enabled user with this id.");
      return { queue_id: current.queue_id, agent_id: agentId, state: "assigned", detail: { to: { agentId } } };
    });
  }

  done(caller: Caller, id: string): Promise<InteractionView> {
    return this.change(caller, id, "done", (current) => Promise.resolve({ queue_id: current.queue_id, agent_id: current.agent_id, state: "done", detail: {} }));
  }

  async history(caller: Caller, id: string): Promise<HistoryView[]> {
    const current = await this.store.state(this.db, id);
    if (!current || !(await this.interactions.visible(caller, current))) throw AppError.notFound("Interaction");
    return (await this.store.history(id)).map((h) => ({
      at: h.at,
      actor: h.actor_id === null ? null : { id: h.actor_id, username: h.actor_name ?? "" },
      action: h.action,
      detail: JSON.parse(h.detail) as Record<string, unknown>,
    }));
  }

  async queueStats(): Promise<QueueStatsView[]> {
    const now = this.clock.now().getTime();
    return (await this.store.queueLoads()).map((q) => ({
      queueId: q.queue_id,
      name: q.name,
      waiting: q.waiting,
      assigned: q.assigned,
      oldestWaitingSince: q.oldest_waiting_at,
      oldestWaitingSeconds: q.oldest_waiting_at === null ? null : Math.max(0, Math.round((now - Date.parse(q.oldest_waiting_at)) / 1000)),
    }));
  }

  /** The queues an agent works, with what waits in each: the workspace's "my queues", empty ones too. */
  async queueStatsOf(userId: string): Promise<QueueStatsView[]> {
    const mine = new Set(await this.queues.queuesOf(userId));
    return (await this.queueStats()).filter((q) => mine.has(q.queueId));
  }

  /**
   * Offers waiting interactions to available agents, the least loaded first, one at a time each round,
   * until no agent under capacity has waiting work in a queue of theirs. Answers how many it offered.
   * One pass at a time; a request during a pass makes one more pass after it.
   */
  offer(): Promise<number> {
    if (this.#offering) {
      this.#offerAgain = true;
      return this.#offering;
    }
    const run = async (): Promise<number> => {
      let offered = 0;
      do {
        this.#offerAgain = false;
        offered += await this.offerPass();
      } while (this.#offerAgain);
      return offered;
    };
    this.#offering = run().finally(() => {
      this.#offering = null;
    });
    return this.#offering;
  }

  /** Waits for an offering under way, if any (before the database closes). */
  async idle(): Promise<void> {
    await this.#offering?.catch(() => undefined);
  }

  /** offer(), for callers that do not wait: a failure is logged by whoever set `onOfferError`. */
  offerSoon(): void {
    this.offer().catch((err: unknown) => this.onOfferError?.(err));
  }

  onOfferError?: (err: unknown) => void;

  private async offerPass(): Promise<number> {
    let offered = 0;
    for (let round = 0; round < 1_000; round++) {
      const agents = (await this.store.availableAgents()).filter((a) => a.load < a.capacity);
      let offeredThisRound = 0;
      for (const agent of agents) {
        const [next] = await this.store.oldestQueued(agent.id, false, 1);
        if (!next) continue;
        const why = `available, holding ${agent.load} of ${agent.capacity}`;
        if (await this.take(next.id, agent.id, false, { actorId: null, action: "offered", detail: { agentId: agent.id, why } })) offeredThisRound++;
      }
      offered += offeredThisRound;
      if (offeredThisRound === 0) break;
    }
    return offered;
  }
}
