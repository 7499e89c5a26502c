import { randomUUID } from "node:crypto";
import { MailSendError, type MailSender } from "../connectors/mail-sender.js";
import type { OutboundConnection } from "../features/mailboxes/mailboxes.service.js";
import type { OutboxRow } from "../features/outbox/outbox.store.js";
import type { SendJob, SendOutcome } from "../features/outbox/outbox.service.js";
import type { Logger } from "../logger.js";
import type { Clock } from "../shared/clock.js";
import { sleep } from "../shared/sleep.js";

/** The outbox as the sender sees it (OutboxService). */
export interface OutboxQueue {
  connection(): Promise<OutboundConnection | null>;
  claim(token: string, limit: number, leaseMs: number): Promise<OutboxRow[]>;
  jobs(rows: OutboxRow[], connection: OutboundConnection): Promise<(SendJob | { row: OutboxRow; error: string })[]>;
  finished(results: { job: { row: OutboxRow }; outcome: SendOutcome }[]): Promise<void>;
  nextDue(): Promise<string | null>;
}

export interface OutboxSenderOptions {
  /** attempts before a message counts as failed (4xx, timeouts and network trouble are tried again) */
  maxAttempts: number;
  /** the wait after the first failed attempt; it doubles with each one, up to maxRetryMs */
  retryMs: number;
  maxRetryMs: number;
  /** how long a claim holds: a sender that died mid-send loses its rows to another after this */
  leaseMs: number;
  /** how often to look for due rows when nothing woke the sender */
  pollMs: number;
  /** rows claimed at once; more are claimed while these are sent, so the connections never wait for a claim */
  batch: number;
  /** emails handed to the connections at once, at most */
  window: number;
}

export const defaultOutboxOptions: OutboxSenderOptions = { maxAttempts: 8, retryMs: 30_000, maxRetryMs: 3_600_000, leaseMs: 120_000, pollMs: 5_000, batch: 20, window: 40 };

/**
 * Delivers the outbox: claims due rows, sends each through the outbound mailbox's MailSender and
 * records how it went. A 5xx fails the message at once with the server's words; a 4xx, a timeout or
 * a lost connection is tried again later with exponential backoff, up to maxAttempts. The claim is a
 * lease: if this process dies between the server's 250 and recording "sent", the row is claimed again
 * when the lease runs out and the message goes out once more, never zero times.
 */
export class OutboxSender {
  readonly #token = randomUUID();
  #running = false;
  #loop: Promise<void> | null = null;
  /** aborted by wake(): the wait in progress, or the next one, ends at once */
  #wake = new AbortController();
  #sender: { key: string; sender: MailSender } | null = null;

  constructor(
    private readonly queue: OutboxQueue,
    private readonly createSender: (connection: OutboundConnection) => MailSender,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: OutboxSenderOptions = defaultOutboxOptions,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.run();
  }

  /** New rows were written: look now instead of at the next poll. */
  wake(): void {
    this.#wake.abort();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    await this.#sender?.sender.close();
    this.#sender = null;
  }

  private async run(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    while (this.#running) {
      let waitMs = 0;
      try {
        waitMs = await this.round(inFlight);
      } catch (err) {
        this.log.error({ err }, "the outbox sender failed a round; it tries again");
        waitMs = this.options.pollMs;
      }
      // with sends under way, the next claim comes when one finishes (or new rows wake the sender)
      if (inFlight.size > this.options.window - this.options.batch) await this.whileSending(inFlight);
      else if (waitMs > 0) await (inFlight.size ? this.whileSending(inFlight, waitMs) : this.sleep(waitMs));
    }
    await Promise.all(inFlight);
    await this.#recording;
  }

  /**
   * One claim, its emails handed to the connections without waiting for them: answers how long to wait
   * before the next claim (0: at once, more may be due).
   */
  private async round(inFlight: Set<Promise<void>>): Promise<number> {
    const connection = await this.queue.connection();
    if (!connection) return this.options.pollMs;
    const sender = this.senderFor(connection);
    const rows = await this.queue.claim(this.#token, Math.min(this.options.batch, this.options.window - inFlight.size), this.options.leaseMs);
    if (rows.length === 0) {
      const next = await this.queue.nextDue();
      if (next === null) return this.options.pollMs;
      return Math.min(this.options.pollMs, Math.max(10, Date.parse(next) - this.clock.now().getTime()));
    }
    for (const job of await this.queue.jobs(rows, connection)) {
      const delivery = this.deliver(job, sender).finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
    }
    return 0;
  }

  /** Until one send under way finishes, new rows arrive, or `ms` pass. */
  private async whileSending(inFlight: Set<Promise<void>>, ms = this.options.pollMs): Promise<void> {
    const over = new AbortController();
    await Promise.race([...inFlight, this.sleep(ms, over.signal)]);
    over.abort();
  }

  /** Until `ms` pass or the sender is woken (also by a wake that came before the wait). */
  private async sleep(ms: number, stop?: AbortSignal): Promise<void> {
    const wake = this.#wake;
    await sleep(ms, stop ? AbortSignal.any([wake.signal, stop]) : wake.signal);
    if (wake.signal.aborted) this.#wake = new AbortController();
  }

  private senderFor(connection: OutboundConnection): MailSender {
    const key = `${connection.mailboxId}@${connection.version}`;
    if (this.#sender?.key !== key) {
      const old = this.#sender?.sender;
      // the mailbox was edited: sends under way finish on the old connections
      if (old) void old.close().catch((err: unknown) => this.log.warn({ err }, "closing the previous outbound connections failed"));
      this.#sender = { key, sender: this.createSender(connection) };
    }
    return this.#sender.sender;
  }

  private async deliver(job: SendJob | { row: OutboxRow; error: string }, sender: MailSender): Promise<void> {
    if ("error" in job) {
      await this.record(job, this.retryOrFail(job.row, `the message could not be prepared: ${job.error}`, true));
      return;
    }
    let outcome: SendOutcome;
    try {
      const receipt = await sender.send({ raw: job.raw, envelope: job.envelope });
      const refused = receipt.rejected.map((r) => `${r.address}: ${r.reply}`).join("; ");
      outcome = { sent: true, response: refused ? `${receipt.response} (refused: ${refused})` : receipt.response };
    } catch (err) {
      const words = err instanceof MailSendError && err.serverText && !err.message.includes(err.serverText) ? `${err.message} (${err.serverText})` : err instanceof Error ? err.message : String(err);
      outcome = this.retryOrFail(job.row, words, !(err instanceof MailSendError) || err.retry);
    }
    await this.record(job, outcome);
  }

  #pending: { job: { row: OutboxRow }; outcome: SendOutcome; done: () => void }[] = [];
  #recording: Promise<void> = Promise.resolve();
  #recordingNow = false;

  /**
   * Records an outcome together with the others that finished meanwhile: one transaction for many
   * (one each made the writer the bottleneck between two claims). Resolves once that transaction is
   * over; if it failed, the failure is logged and the claims run out: the emails go again, never lost.
   */
  private record(job: { row: OutboxRow }, outcome: SendOutcome): Promise<void> {
    const recorded = new Promise<void>((done) => this.#pending.push({ job, outcome, done }));
    if (!this.#recordingNow) {
      this.#recordingNow = true;
      this.#recording = this.recordPending();
    }
    return recorded;
  }

  private async recordPending(): Promise<void> {
    while (this.#pending.length) {
      const group = this.#pending.splice(0, 100);
      try {
        await this.queue.finished(group);
      } catch (err) {
        // not recorded: the claims run out and the emails are sent again, never lost
        this.log.error({ err, rows: group.length }, "recording sent emails failed");
      }
      for (const item of group) item.done();
    }
    this.#recordingNow = false;
  }

  private retryOrFail(row: OutboxRow, error: string, retry: boolean): { sent: false; retryAt: Date | null; error: string } {
    const attempts = Number(row.attempts);
    if (!retry) return { sent: false, retryAt: null, error };
    if (attempts >= this.options.maxAttempts) return { sent: false, retryAt: null, error: `${error}; gave up after ${attempts} attempts` };
    const delay = Math.min(this.options.maxRetryMs, this.options.retryMs * 2 ** Math.max(0, attempts - 1));
    return { sent: false, retryAt: new Date(this.clock.now().getTime() + delay), error };
  }
}
