import os from "node:os";
import type { Registry } from "prom-client";
import type { MailboxLeases } from "../cluster/leases.js";
import type { Config } from "../config.js";
import type { Fence } from "../db/fence.js";
import { readableProtocols } from "../connectors/index.js";
import type { MailSourceFactory } from "../connectors/mail-source.js";
import type { Logger } from "../logger.js";
import type { Clock } from "../shared/clock.js";
import { Semaphore } from "../shared/semaphore.js";
import type { EnabledInboundMailbox, MailboxStatusUpdate } from "../features/mailboxes/mailboxes.service.js";
import { IngestScheduler } from "./ingest-scheduler.js";
import { MailboxRunner, type IngestPort } from "./mailbox-runner.js";
import type { WarningCode } from "./mailbox-sync.js";
import { RunnerManager } from "./runner-manager.js";
import { createRunnerMetrics } from "./runner-metrics.js";

/** What the runners need from the mailboxes feature. */
export interface MailboxDirectory {
  listEnabledInbound(only: (mailboxId: string) => boolean): Promise<EnabledInboundMailbox[]>;
  enabledInboundIds(types: readonly EnabledInboundMailbox["type"][]): Promise<string[]>;
  onChange(listener: () => void): () => void;
  setStatus(mailboxId: string, status: MailboxStatusUpdate, fence?: Fence): Promise<void>;
  recordWarning(mailboxId: string, code: WarningCode, message: string): Promise<void>;
  ownAddresses(): Promise<Set<string>>;
}

export interface RunnerWiring {
  config: Config;
  log: Logger;
  clock: Clock;
  registry: Registry;
  mailboxes: MailboxDirectory;
  createSource: MailSourceFactory;
  ingest: IngestPort;
  leases: MailboxLeases;
  onCommitted?: (mailboxId: string, interactionIds: string[]) => void;
}

const supported: readonly EnabledInboundMailbox["type"][] = readableProtocols;

export function createRunnerManager(w: RunnerWiring): RunnerManager {
  const metrics = createRunnerMetrics(w.registry);
  const log = w.log.child({ component: "runners" });

  // loop detection reads our own addresses for every message: keep them in memory, refreshed on change
  let own: Set<string> = new Set();
  const refreshOwn = () =>
    w.mailboxes.ownAddresses().then(
      (s) => {
        own = s;
      },
      (err: unknown) => log.error({ err }, "could not read Mailroom's own addresses for loop detection"),
    );

  const runnerDeps = {
    createSource: w.createSource,
    ingest: w.ingest,
    setStatus: (id: string, s: MailboxStatusUpdate, fence?: Fence) => w.mailboxes.setStatus(id, s, fence),
    recordWarning: (id: string, code: WarningCode, message: string) => w.mailboxes.recordWarning(id, code, message),
    ownAddresses: () => own,
    connectSlots: new Semaphore(50),
    // SQLite has one writer: its transactions queue anyway, so queue them here, new mail first. One
    // backlog at a time per spare core: a second one drained little faster and made new mail of other
    // mailboxes wait ~100 ms longer (bench:ingest, fairness)
    scheduler: new IngestScheduler({
      transactions: w.config.database.dialect === "sqlite" ? 1 : 4,
      bulkTurns: Math.max(1, os.availableParallelism() - 1),
    }),
    clock: w.clock,
    log,
    metrics,
    // Graph mailboxes are woken by notifications; the wait is their catch-up, for notifications Graph never sent
    waitMs: (protocol: string) =>
      (protocol === "POP3" ? w.config.pop3PollSeconds : protocol === "GRAPH" ? w.config.microsoft.catchUpSeconds : w.config.imapResyncSeconds) * 1000,
    backoff: { initialMs: 1000, maxMs: 5 * 60_000 },
    ...(w.onCommitted ? { onCommitted: w.onCommitted } : {}),
    onFencedOut: (mailboxId: string) => manager.fencedOut(mailboxId),
  };

  const manager: RunnerManager = new RunnerManager({
    listEnabledInbound: async (only) => {
      await refreshOwn();
      return w.mailboxes.listEnabledInbound(only);
    },
    onMailboxesChanged: (listener) => w.mailboxes.onChange(listener),
    listEnabledIds: () => w.mailboxes.enabledInboundIds(supported),
    createRunner: (mailbox, lease) => new MailboxRunner(mailbox, runnerDeps, lease),
    supports: (type) => supported.includes(type),
    leases: w.leases,
    log,
    metrics,
    reconcileEveryMs: 30_000,
    // several nodes: a failover hands a node hundreds of mailboxes in one tick (one node starts all at once, as before)
    ...(w.config.database.dialect === "postgres" ? { startWaves: { size: 25, pauseMs: 250 } } : {}),
  });
  return manager;
}
