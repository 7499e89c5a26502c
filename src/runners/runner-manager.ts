import type { Logger } from "../logger.js";
import type { EnabledInboundMailbox } from "../features/mailboxes/mailboxes.service.js";
import type { MailboxLeases } from "../cluster/leases.js";
import type { MailboxRunner, RunnerLease, RunnerState } from "./mailbox-runner.js";
import type { RunnerMetrics } from "./runner-metrics.js";
import { sleep } from "../shared/sleep.js";

export interface RunnerManagerDeps {
  /** `only`: the mailboxes this node runs; the others' settings (and secrets) are not read */
  listEnabledInbound(only: (mailboxId: string) => boolean): Promise<EnabledInboundMailbox[]>;
  /** the ids of those of them with a connector on this build, without their settings: read at every lease tick */
  listEnabledIds(): Promise<string[]>;
  /** subscribes to changes of the enabled set or of mailbox settings; returns the unsubscribe */
  onMailboxesChanged(listener: () => void): () => void;
  createRunner(mailbox: EnabledInboundMailbox, lease: RunnerLease): MailboxRunner;
  /** which mailboxes this node runs: all of them on one node, its leased share among several */
  leases: MailboxLeases;
  /** protocols that have a connector on this build */
  supports(type: EnabledInboundMailbox["type"]): boolean;
  log: Logger;
  metrics: RunnerMetrics;
  /** a periodic reconcile catches changes a lost event would have announced */
  reconcileEveryMs: number;
  /**
   * Runners started at once, and the pause before the next ones: a node taking over hundreds of
   * mailboxes (a failover) spreads their logins and first syncs instead of loading the database all at once.
   */
  startWaves?: { size: number; pauseMs: number };
}

/**
 * Keeps exactly one runner per enabled inbound mailbox that this node holds the lease of: starts
 * runners as applications enable mailboxes and leases are taken, stops them as mailboxes are disabled
 * and leases lost or given up (then hands those leases back), restarts them when a mailbox's settings
 * change.
 */
export class RunnerManager {
  readonly #runners = new Map<string, MailboxRunner>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reconciling: Promise<void> = Promise.resolve();
  #again = false;
  #pending = false;
  #stopped = false;

  constructor(private readonly deps: RunnerManagerDeps) {
    deps.metrics.countRunners = () => {
      const counts: Record<string, number> = { connecting: 0, ok: 0, error: 0 };
      for (const r of this.#runners.values()) counts[r.state] = (counts[r.state] ?? 0) + 1;
      return counts;
    };
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.deps.onMailboxesChanged(() => {
      // a mailbox enabled or disabled changes the shares: the leases are balanced now, not at the next tick
      this.deps.leases.nudge();
      void this.reconcile();
    });
    await this.deps.leases.start({
      wanted: () => this.deps.listEnabledIds(),
      changed: () => void this.reconcile(),
    });
    this.#timer = setInterval(() => void this.reconcile(), this.deps.reconcileEveryMs);
    this.#timer.unref();
    await this.reconcile();
  }

  /** Serialised: a change during a reconcile triggers exactly one more pass after it. */
  reconcile(): Promise<void> {
    if (this.#pending) {
      this.#again = true;
      return this.#reconciling;
    }
    this.#pending = true;
    this.#reconciling = (async () => {
      try {
        do {
          this.#again = false;
          await this.reconcileOnce();
        } while (this.#again && !this.#stopped);
      } catch (err) {
        this.deps.log.error({ err }, "could not reconcile mailbox runners; retrying on the next change or tick");
      } finally {
        this.#pending = false;
      }
    })();
    return this.#reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.#stopped) return;
    const { leases } = this.deps;
    const held = (id: string) => leases.tokenOf(id) !== undefined;
    const wanted = new Map((await this.deps.listEnabledInbound(held)).filter((m) => this.deps.supports(m.type)).map((m) => [m.id, m]));
    const stopping: Promise<void>[] = [];
    for (const [id, runner] of this.#runners) {
      const next = wanted.get(id);
      const token = leases.tokenOf(id);
      const reason =
        token === undefined || token !== runner.lease.token || runner.state === "stopped"
          ? "lease gone"
          : !next
            ? "disabled"
            : next.updatedAt !== runner.mailbox.updatedAt || next.queueId !== runner.mailbox.queueId
              ? "settings changed"
              : null;
      if (reason) {
        this.#runners.delete(id);
        stopping.push(runner.stop());
        this.deps.log.info({ mailboxId: id, reason }, "stopping mailbox runner");
      }
    }
    await Promise.all(stopping);
    // given up only now that their runners have stopped: never two nodes on one mailbox
    await leases.release(leases.releasing().filter((id) => !this.#runners.has(id)));
    let started = 0;
    const waves = this.deps.startWaves;
    for (const [id, mailbox] of wanted) {
      if (waves && started > 0 && started % waves.size === 0) await sleep(waves.pauseMs);
      if (this.#stopped) return;
      // the lease may have gone during a pause
      const token = leases.tokenOf(id);
      if (token === undefined || this.#runners.has(id)) continue;
      const runner = this.deps.createRunner(mailbox, { nodeId: leases.node.id, token, fence: leases.fence(id, token) });
      this.#runners.set(id, runner);
      runner.start();
      started++;
    }
  }

  /** A runner found its lease gone when it wrote: its mailbox is not run here under that lease again. */
  fencedOut(mailboxId: string): void {
    this.deps.leases.forget(mailboxId);
    void this.reconcile();
  }

  /** Makes the mailbox's runner sync now (news from outside its connection); false when it has none here. */
  wake(mailboxId: string): boolean {
    const runner = this.#runners.get(mailboxId);
    runner?.wake();
    return runner !== undefined;
  }

  states(): Map<string, RunnerState> {
    return new Map([...this.#runners].map(([id, r]) => [id, r.state]));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearInterval(this.#timer);
    await this.#reconciling;
    await Promise.all([...this.#runners.values()].map((r) => r.stop()));
    this.#runners.clear();
    // the runners have stopped: the other nodes may take the mailboxes at once
    await this.deps.leases.stop();
  }
}
