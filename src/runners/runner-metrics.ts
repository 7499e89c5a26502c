import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface RunnerMetrics {
  ingested: Counter<"mailbox" | "outcome">;
  syncErrors: Counter<"mailbox" | "code">;
  syncSeconds: Histogram<"protocol">;
  runners: Gauge<"state">;
  /** commits refused because this node's lease on the mailbox had expired */
  fencedOut: Counter;
  /** what the runners gauge reads when scraped */
  countRunners: () => Record<string, number>;
}

export function createRunnerMetrics(registry: Registry): RunnerMetrics {
  const metrics: RunnerMetrics = {
    countRunners: () => ({}),
    ingested: new Counter({
      name: "mailroom_messages_ingested_total",
      help: "Messages taken from mailboxes, by outcome (created, duplicate, already_stored)",
      labelNames: ["mailbox", "outcome"],
      registers: [registry],
    }),
    syncErrors: new Counter({
      name: "mailroom_mailbox_errors_total",
      help: "Mailbox connection or sync failures, by error code",
      labelNames: ["mailbox", "code"],
      registers: [registry],
    }),
    syncSeconds: new Histogram({
      name: "mailroom_mailbox_sync_seconds",
      help: "Duration of one mailbox sync (fetch, store, acknowledge)",
      labelNames: ["protocol"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    fencedOut: new Counter({
      name: "mailroom_lease_fenced_out_total",
      help: "Mailbox writes refused because this node no longer held the mailbox's lease (another node runs it)",
      registers: [registry],
    }),
    runners: new Gauge({
      name: "mailroom_mailbox_runners",
      help: "Mailbox runners on this node, by state",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        for (const [state, n] of Object.entries(metrics.countRunners())) this.set({ state }, n);
      },
    }),
  };
  return metrics;
}
