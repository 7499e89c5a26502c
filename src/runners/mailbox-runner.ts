import {
  MailSourceError,
  type MailProtocol,
  type MailSource,
  type MailSourceFactory,
  type SourceMessage,
  type SyncContext,
} from "../connectors/mail-source.js";
import type { EnabledInboundMailbox, MailboxStatusUpdate } from "../features/mailboxes/mailboxes.service.js";
import type { IngestService, PreparedBatch } from "../ingest/ingest.service.js";
import type { SourceStateStore } from "../ingest/ingest.store.js";
import type { Logger } from "../logger.js";
import type { Clock } from "../shared/clock.js";
import type { Semaphore } from "../shared/semaphore.js";
import { sleep } from "../shared/sleep.js";
import { backoffDelay } from "./backoff.js";
import type { RunnerMetrics } from "./runner-metrics.js";

export interface RunnerDeps {
  createSource: MailSourceFactory;
  ingest: IngestService;
  sourceState: SourceStateStore;
  setStatus(mailboxId: string, status: MailboxStatusUpdate): Promise<void>;
  ownAddresses(): ReadonlySet<string>;
  /** bounds logins in flight when many mailboxes connect at once */
  connectSlots: Semaphore;
  clock: Clock;
  log: Logger;
  metrics: RunnerMetrics;
  /** IMAP: how long to hold IDLE before a full resync; POP3: the poll interval */
  waitMs(protocol: MailProtocol): number;
  backoff: { initialMs: number; maxMs: number };
  /** called after each committed batch with the ids of new interactions */
  onCommitted?(mailboxId: string, interactionIds: string[]): void;
}

export type RunnerState = "connecting" | "ok" | "error" | "stopped";

/**
 * Keeps one mailbox flowing: sync, wait for news, sync again; on failure, report the cause as the
 * mailbox's status and retry with its own backoff. Runners share nothing but the connect slots, so one
 * broken mailbox never delays another (invariant 3).
 */
export class MailboxRunner {
  state: RunnerState = "connecting";
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  readonly #log: Logger;

  constructor(
    readonly mailbox: EnabledInboundMailbox,
    private readonly deps: RunnerDeps,
  ) {
    this.#log = deps.log.child({ mailboxId: mailbox.id, mailbox: mailbox.name });
  }

  start(): void {
    this.#loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.state = "stopped";
  }

  private async run(): Promise<void> {
    const signal = this.#abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const source = this.deps.createSource(this.mailbox.type, this.mailbox.settings);
      try {
        await this.report({ state: "connecting" });
        await this.deps.connectSlots.run(() => this.syncOnce(source));
        attempt = 0;
        while (!signal.aborted) {
          const woke = await source.waitForChange(this.deps.waitMs(this.mailbox.type), signal);
          if (woke === "aborted") break;
          await this.syncOnce(source);
        }
      } catch (err) {
        if (signal.aborted) break;
        const code = err instanceof MailSourceError ? err.code : "internal";
        const message = describe(err);
        this.deps.metrics.syncErrors.inc({ mailbox: this.mailbox.name, code });
        this.#log.warn({ code, err: message }, "mailbox failed; retrying with backoff");
        await this.report({ state: "error", code, message }).catch((e: unknown) => this.#log.error({ err: e }, "could not record mailbox status"));
        await closeQuietly(source);
        await sleep(backoffDelay(attempt++, this.deps.backoff.initialMs, this.deps.backoff.maxMs), signal);
        continue;
      }
      await closeQuietly(source);
    }
  }

  private async syncOnce(source: MailSource): Promise<void> {
    const end = this.deps.metrics.syncSeconds.startTimer({ protocol: this.mailbox.type });
    const report = await source.sync(this.syncContext());
    end();
    if (report.fetched > 0 || this.state !== "ok") this.#log.debug({ ...report }, "mailbox synced");
    await this.report({ state: "ok", code: null, message: null, lastSyncAt: this.deps.clock.now().toISOString() });
  }

  private async report(status: MailboxStatusUpdate & { state: "connecting" | "ok" | "error" }): Promise<void> {
    const changed = status.state !== this.state;
    this.state = status.state;
    // lastSyncAt on every sync would write on every new message; record it on state changes and once a minute
    const now = this.deps.clock.now().getTime();
    if (changed || status.state !== "ok" || now - this.#lastStatusWrite >= 60_000) {
      this.#lastStatusWrite = now;
      await this.deps.setStatus(this.mailbox.id, status);
    }
  }

  #lastStatusWrite = 0;

  private syncContext(): SyncContext {
    const { id, queueId, maxSizeMb } = this.mailbox;
    const { ingest, sourceState, metrics } = this.deps;
    const maxSizeBytes = maxSizeMb * 1024 * 1024;
    const target = { mailboxId: id, queueId };
    const ingestContext = () => ({ maxSizeBytes, ownAddresses: this.deps.ownAddresses() });
    // parses started ahead of their commit, by batch
    const prepared = new WeakMap<SourceMessage[], Promise<PreparedBatch>>();
    return {
      maxMessageBytes: maxSizeBytes,
      signal: this.#abort.signal,
      loadCursor: (folder) => sourceState.loadCursor(id, folder),
      knownKeys: (keys) => sourceState.knownKeys(id, keys),
      unackedKeys: () => sourceState.unackedKeys(id),
      markAcked: (keys) => sourceState.markAcked(id, keys),
      prepare: (batch) => {
        const parsing = ingest.prepare(target, batch, ingestContext());
        // a sync that fails before this batch's commit never awaits it
        parsing.catch(() => undefined);
        prepared.set(batch, parsing);
      },
      commit: async (batch, cursor) => {
        const r = await ingest.commitBatch(target, batch, ingestContext(), cursor, prepared.get(batch));
        const label = this.mailbox.name;
        if (r.created.length) metrics.ingested.inc({ mailbox: label, outcome: "created" }, r.created.length);
        if (r.duplicates) metrics.ingested.inc({ mailbox: label, outcome: "duplicate" }, r.duplicates);
        if (r.alreadyStored) metrics.ingested.inc({ mailbox: label, outcome: "already_stored" }, r.alreadyStored);
        if (r.created.length) this.deps.onCommitted?.(id, r.created);
      },
    };
  }
}

function describe(err: unknown): string {
  if (err instanceof MailSourceError) return err.serverText && !err.message.includes(err.serverText) ? `${err.message} (${err.serverText})` : err.message;
  if (err instanceof Error) return `Mailroom could not store mail from this mailbox: ${err.message}`;
  return String(err);
}

async function closeQuietly(source: MailSource): Promise<void> {
  try {
    await source.close();
  } catch {
    // the connection is being discarded; a failure to close it politely changes nothing
  }
}
