import { MailSourceError, type MailProtocol, type MailSource, type MailSourceFactory } from "../connectors/mail-source.js";
import { FencedOutError, type Fence } from "../db/fence.js";
import type { EnabledInboundMailbox, MailboxStatusUpdate } from "../features/mailboxes/mailboxes.service.js";
import type { InboundTarget } from "../ingest/ingest.service.js";
import type { SyncStore } from "../ingest/sync-store.js";
import type { IngestContext } from "../ingest/types.js";
import type { Logger } from "../logger.js";
import type { Clock } from "../shared/clock.js";
import type { Semaphore } from "../shared/semaphore.js";
import { sleep } from "../shared/sleep.js";
import { backoffDelay } from "./backoff.js";
import {
  MailboxSync,
  defaultSyncLimits,
  type SyncLimits,
  type SyncReport,
  type SyncResume,
  type SyncScheduler,
  type SyncStart,
  type WarningCode,
} from "./mailbox-sync.js";
import type { RunnerMetrics } from "./runner-metrics.js";

/** Where a runner stores what it takes: the ingest pipeline, bound to one mailbox's maildrop per sync. */
export interface IngestPort {
  forMaildrop(target: InboundTarget, maildrop: string, ctx: IngestContext): SyncStore;
}

/** The lease this runner runs under: its writes are fenced by it. */
export interface RunnerLease {
  nodeId: string;
  token: number;
  fence: Fence;
}

export interface RunnerDeps {
  createSource: MailSourceFactory;
  ingest: IngestPort;
  setStatus(mailboxId: string, status: MailboxStatusUpdate, fence?: Fence): Promise<void>;
  recordWarning(mailboxId: string, code: WarningCode, message: string): Promise<void>;
  ownAddresses(): ReadonlySet<string>;
  /** bounds logins in flight when many mailboxes connect at once; held only while logging in */
  connectSlots: Semaphore;
  /** shares the database and the parse workers between mailboxes: new mail first, backlogs in turns */
  scheduler?: SyncScheduler;
  clock: Clock;
  log: Logger;
  metrics: RunnerMetrics;
  /** IMAP: how long to hold IDLE before a full resync; POP3: the poll interval */
  waitMs(protocol: MailProtocol): number;
  backoff: { initialMs: number; maxMs: number };
  /** batch sizes and retry bounds; the defaults suit production */
  limits?: Partial<Omit<SyncLimits, "maxMessageBytes">>;
  /** called after each committed batch with the ids of new interactions */
  onCommitted?(mailboxId: string, interactionIds: string[]): void;
  /** the runner found that its node no longer holds the mailbox's lease, and stopped */
  onFencedOut?(mailboxId: string): void;
}

export type RunnerState = "connecting" | "ok" | "error" | "stopped";

/**
 * Keeps one mailbox flowing: sync, wait for news, sync again; on failure, report the cause as the
 * mailbox's status and retry with its own backoff. Runners share nothing but the connect slots and the
 * scheduler, so one broken mailbox never delays another (invariant 3).
 */
export class MailboxRunner {
  state: RunnerState = "connecting";
  readonly #abort = new AbortController();
  /** aborted by wake(): the wait in progress, or the next one, ends at once */
  #wake = new AbortController();
  #loop: Promise<void> | undefined;
  readonly #log: Logger;

  constructor(
    readonly mailbox: EnabledInboundMailbox,
    private readonly deps: RunnerDeps,
    readonly lease: RunnerLease,
  ) {
    this.#log = deps.log.child({ mailboxId: mailbox.id, mailbox: mailbox.name });
  }

  start(): void {
    this.#loop ??= this.run();
  }

  /**
   * Syncs now instead of waiting for the server or the poll interval: for news that reaches Mailroom
   * some other way than the mailbox's own connection (a Microsoft Graph notification on the HTTP side).
   */
  wake(): void {
    this.#wake.abort();
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
        await this.syncOnce(source, true);
        attempt = 0;
        while (!signal.aborted) {
          const wake = this.#wake;
          await source.waitForChange(this.deps.waitMs(this.mailbox.type), AbortSignal.any([signal, wake.signal]));
          if (signal.aborted) break;
          if (wake.signal.aborted) this.#wake = new AbortController();
          await this.syncOnce(source, false);
        }
      } catch (err) {
        if (signal.aborted) {
          // stopped while the sync failed (a fenced status write, say): the connection still goes
          await closeQuietly(source);
          break;
        }
        if (err instanceof FencedOutError) {
          // another node runs the mailbox now: nothing was committed, so nothing was acknowledged
          this.#log.warn({ err: err.message }, "the lease on this mailbox was lost; stopping its runner here");
          this.deps.metrics.fencedOut.inc();
          await closeQuietly(source);
          this.state = "stopped";
          this.deps.onFencedOut?.(this.mailbox.id);
          return;
        }
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

  /** `firstOnConnection`: also retry acknowledgements the server refused before (rights may have changed, or a lost connection looked like a refusal) */
  private async syncOnce(source: MailSource, firstOnConnection: boolean): Promise<SyncReport> {
    // a source reads one maildrop: the same source, the same cursor
    const resume = !firstOnConnection && this.#resume?.source === source ? this.#resume.at : null;
    this.#resume = null;
    // on a kept connection (the server told of news) this may well be new mail: backlogs of other
    // mailboxes hold back from now, not only once the session is open
    const newMail = source.connected ? (this.deps.scheduler?.newMail() ?? null) : null;
    try {
      return await this.#sync(source, { firstOnConnection, resume, newMail });
    } finally {
      newMail?.();
    }
  }

  async #sync(source: MailSource, start: SyncStart): Promise<SyncReport> {
    const end = this.deps.metrics.syncSeconds.startTimer({ protocol: this.mailbox.type });
    // a kept connection opens without a login; a login takes one of the slots that bound logins in flight
    const session = source.connected ? await source.open() : await this.deps.connectSlots.run(() => source.open());
    const { id, queueId, maxSizeMb } = this.mailbox;
    const maxSizeBytes = maxSizeMb * 1024 * 1024;
    const target = { mailboxId: id, queueId, nodeId: this.lease.nodeId, fence: this.lease.fence };
    const store = this.deps.ingest.forMaildrop(target, source.maildrop, { maxSizeBytes, ownAddresses: this.deps.ownAddresses() });
    const label = this.mailbox.name;
    const sync = new MailboxSync(
      session,
      store,
      { ...defaultSyncLimits, ...this.deps.limits, maxMessageBytes: maxSizeBytes },
      {
        signal: this.#abort.signal,
        warn: (code, message) => {
          this.#log.warn({ code, warning: message }, "mailbox warning");
          this.deps.recordWarning(id, code, message).catch((err: unknown) => this.#log.error({ err }, "could not record a mailbox warning"));
        },
        committed: (created) => {
          if (created.length) this.deps.onCommitted?.(id, created);
        },
        ...(this.deps.scheduler ? { scheduler: this.deps.scheduler } : {}),
      },
      start,
    );
    const report = await sync.run();
    end();
    if (sync.resume) this.#resume = { source, at: sync.resume };
    for (const w of source.takeWarnings?.() ?? []) {
      this.#log.warn({ code: w.code, warning: w.message }, "mailbox warning");
      await this.deps.recordWarning(id, w.code, w.message).catch((err: unknown) => this.#log.error({ err }, "could not record a mailbox warning"));
    }
    const { metrics } = this.deps;
    if (report.created) metrics.ingested.inc({ mailbox: label, outcome: "created" }, report.created);
    if (report.duplicates) metrics.ingested.inc({ mailbox: label, outcome: "duplicate" }, report.duplicates);
    if (report.alreadyStored) metrics.ingested.inc({ mailbox: label, outcome: "already_stored" }, report.alreadyStored);
    if (report.skipped) metrics.ingested.inc({ mailbox: label, outcome: "skipped" }, report.skipped);
    if (report.unstorable) metrics.ingested.inc({ mailbox: label, outcome: "unstorable" }, report.unstorable);
    if (report.fetched > 0 || this.state !== "ok") this.#log.debug({ ...report }, "mailbox synced");
    await this.report({ state: "ok", code: null, message: null, lastSyncAt: this.deps.clock.now().toISOString() });
    return report;
  }

  private async report(status: MailboxStatusUpdate & { state: "connecting" | "ok" | "error" }): Promise<void> {
    const changed = status.state !== this.state;
    this.state = status.state;
    // lastSyncAt on every sync would write on every new message; record it on state changes and once a minute
    const now = this.deps.clock.now().getTime();
    if (changed || status.state !== "ok" || now - this.#lastStatusWrite >= 60_000) {
      this.#lastStatusWrite = now;
      await this.deps.setStatus(this.mailbox.id, { ...status, nodeId: this.lease.nodeId }, this.lease.fence);
    }
  }

  #lastStatusWrite = 0;
  /** where the next sync on this connection may begin (MailboxSync.resume) */
  #resume: { source: MailSource; at: SyncResume } | null = null;
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
