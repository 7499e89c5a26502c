import type { Logger } from "../logger.js";
import type { EnabledInboundMailbox } from "../features/mailboxes/mailboxes.service.js";
import type { MailboxRunner, RunnerState } from "./mailbox-runner.js";
import type { RunnerMetrics } from "./runner-metrics.js";

export interface RunnerManagerDeps {
  listEnabledInbound(): Promise<EnabledInboundMailbox[]>;
  /** subscribes to changes of the enabled set or of mailbox settings; returns the unsubscribe */
  onMailboxesChanged(listener: () => void): () => void;
  createRunner(mailbox: EnabledInboundMailbox): MailboxRunner;
  /** protocols that have a connector on this build */
  supports(type: EnabledInboundMailbox["type"]): boolean;
  log: Logger;
  metrics: RunnerMetrics;
  /** a periodic reconcile catches changes made by another node (multi-node deployments) */
  reconcileEveryMs: number;
}

/**
 * Keeps exactly one runner per enabled inbound mailbox: starts runners as applications enable
 * mailboxes, stops them as they are disabled, restarts them when a mailbox's settings change.
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
    this.#unsubscribe = this.deps.onMailboxesChanged(() => void this.reconcile());
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
    const wanted = new Map((await this.deps.listEnabledInbound()).filter((m) => this.deps.supports(m.type)).map((m) => [m.id, m]));
    const stopping: Promise<void>[] = [];
    for (const [id, runner] of this.#runners) {
      const next = wanted.get(id);
      if (!next || next.updatedAt !== runner.mailbox.updatedAt || next.queueId !== runner.mailbox.queueId) {
        this.#runners.delete(id);
        stopping.push(runner.stop());
        this.deps.log.info({ mailboxId: id, reason: next ? "settings changed" : "disabled" }, "stopping mailbox runner");
      }
    }
    await Promise.all(stopping);
    for (const [id, mailbox] of wanted) {
      if (this.#runners.has(id) || this.#stopped) continue;
      const runner = this.deps.createRunner(mailbox);
      this.#runners.set(id, runner);
      runner.start();
    }
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
  }
}
