import { randomUUID } from "node:crypto";
import { MailSendError, type MailSender } from "../connectors/mail-sender.js";
import type { OutboundConnection } from "../features/mailboxes/mailboxes.service.js";
import type { OutboxRow } from "../features/outbox/outbox.store.js";
import type { SendJob } from "../features/outbox/outbox.service.js";
import type { Logger } from "../logger.js";
import type { Clock } from "../shared/clock.js";

/** The outbox as the sender sees it (OutboxService). */
export interface OutboxQueue {
  connection(): Promise<OutboundConnection | null>;
  claim(token: string, limit: number, leaseMs: number): Promise<OutboxRow[]>;
  job(row: OutboxRow, connection: OutboundConnection): Promise<SendJob>;
  finished(job: { row: OutboxRow }, outcome: { sent: true; response: string } | { sent: false; retryAt: Date | null; error: string }): Promise<void>;
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
  /** rows claimed at once; they are sent concurrently over the sender's pooled connections */
  batch: number;
}

export const defaultOutboxOptions: OutboxSenderOptions = { maxAttempts: 8, retryMs: 30_000, maxRetryMs: 3_600_000, leaseMs: 120_000, pollMs: 5_000, batch: 20 };

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
  #wake: (() => void) | null = null;
  #woken = false;
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
    this.#woken = true;
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    await this.#sender?.sender.close();
    this.#sender = null;
  }

  private async run(): Promise<void> {
    while (this.#running) {
      let waitMs = this.options.pollMs;
      try {
        waitMs = await this.round();
      } catch (err) {
        this.log.error({ err }, "the outbox sender failed a round; it tries again");
      }
      if (waitMs > 0) await this.sleep(waitMs);
    }
  }

  /** One round: answers how long to wait before the next (0: at once, more may be due). */
  private async round(): Promise<number> {
    const connection = await this.queue.connection();
    if (!connection) return this.options.pollMs;
    const sender = this.senderFor(connection);
    const rows = await this.queue.claim(this.#token, this.options.batch, this.options.leaseMs);
    if (rows.length === 0) {
      const next = await this.queue.nextDue();
      if (next === null) return this.options.pollMs;
      return Math.min(this.options.pollMs, Math.max(10, Date.parse(next) - this.clock.now().getTime()));
    }
    await Promise.all(rows.map((row) => this.deliver(row, connection, sender)));
    return 0;
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

  private async deliver(row: OutboxRow, connection: OutboundConnection, sender: MailSender): Promise<void> {
    let job: SendJob;
    try {
      job = await this.queue.job(row, connection);
    } catch (err) {
      await this.queue.finished({ row }, this.retryOrFail(row, `the message could not be prepared: ${err instanceof Error ? err.message : String(err)}`, true));
      return;
    }
    try {
      const receipt = await sender.send({ raw: job.raw, envelope: job.envelope });
      const refused = receipt.rejected.map((r) => `${r.address}: ${r.reply}`).join("; ");
      await this.queue.finished(job, { sent: true, response: refused ? `${receipt.response} (refused: ${refused})` : receipt.response });
    } catch (err) {
      if (!(err instanceof MailSendError)) throw err;
      const words = err.serverText && !err.message.includes(err.serverText) ? `${err.message} (${err.serverText})` : err.message;
      await this.queue.finished(job, this.retryOrFail(row, words, err.retry));
    }
  }

  private retryOrFail(row: OutboxRow, error: string, retry: boolean): { sent: false; retryAt: Date | null; error: string } {
    const attempts = Number(row.attempts);
    if (!retry) return { sent: false, retryAt: null, error };
    if (attempts >= this.options.maxAttempts) return { sent: false, retryAt: null, error: `${error}; gave up after ${attempts} attempts` };
    const delay = Math.min(this.options.maxRetryMs, this.options.retryMs * 2 ** Math.max(0, attempts - 1));
    return { sent: false, retryAt: new Date(this.clock.now().getTime() + delay), error };
  }

  private sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        this.#woken = false;
        done();
      };
    });
  }
}
