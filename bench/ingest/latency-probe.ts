import { randomUUID } from "node:crypto";
import type { ImapFlow } from "imapflow";
import type { ApiClient } from "../../test/support/mailroom-process.js";
import { nowMs, sleep } from "../lib/clock.js";
import { MailroomEventStream, type InteractionsCreated } from "../lib/event-stream.js";
import { InteractionReader } from "../lib/interaction-reader.js";
import type { MailroomDbReader } from "../lib/mailroom.js";
import { round1, summarize, type Summary } from "../lib/stats.js";
import type { BareIdleProcess } from "./bare-idle.js";

/** One mailbox Mailroom watches and its twin that the bare client watches; both get every probe message. */
export interface MailboxPair {
  mailroomUser: string;
  twinUser: string;
}

interface PendingSample {
  messageId: string;
  twinUser: string;
  /** the twin's message count once this message is in it */
  twinCount: number;
  mailroomAppendedAt: number;
  twinAppendedAt: number;
  /** when settle() stopped waiting for Mailroom to show it */
  gaveUpAt?: number;
}

/** When a probe message became visible to a user of Mailroom. */
interface Arrival {
  /** the interaction.created event that named it was read from the event stream */
  eventAt: number;
  /** GET /api/v1/interactions/:id answered 200 with its body */
  apiAt: number;
}

export const sampleColumns = ["bareMs", "mailroomMs", "apiConfirmMs", "commitSeenMs"] as const;

export interface LatencyFigures {
  sent: number;
  /** samples whose EXISTS the bare client did not report before the deadline: left out */
  bareMissing: number;
  /**
   * samples Mailroom had not shown (event and API) by the deadline: counted with the time waited, so
   * they weigh on Mailroom's percentiles instead of dropping out of them
   */
  mailroomMissing: number;
  /** APPEND completed → EXISTS in the bare process */
  bareMs: Summary;
  /** APPEND completed → the interaction.created event naming it read from GET /api/v1/events */
  mailroomMs: Summary;
  /** APPEND completed → GET /api/v1/interactions/:id answered with it */
  apiConfirmMs: Summary;
  /** APPEND completed → its row seen by polling Mailroom's SQLite file (secondary: no user looks there) */
  commitSeenMs: Summary;
  /** Mailroom's p50 and p99 (event) minus the bare client's */
  differenceMs: { p50: number; p99: number };
  /** GETs after an event that answered 404 and were tried again 5 ms later */
  apiRetries: number;
  apiErrors: string[];
  /** why the event stream ended during the measurement, or null */
  eventStreamEnded: string | null;
  sampleColumns: typeof sampleColumns;
  /** per message, in the order of sampleColumns, ms */
  samples: number[][];
}

export const commitPollMs = 2;

function probeMessage(messageId: string, subject: string): string {
  return [
    "From: Latency Probe <probe@customer.example>",
    "To: support@company.example",
    `Subject: ${subject}`,
    `Message-ID: <${messageId}>`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    `This message measures how soon new mail is seen (${subject}).`,
    "",
  ].join("\r\n");
}

/**
 * Sends the same message to a Mailroom mailbox and its twin at the same moment and measures, per side,
 * from the APPEND's completion to the moment the side shows the message: the bare client's EXISTS, and
 * for Mailroom the `interaction.created` event on one open event stream, confirmed by reading each
 * interaction it names through the API (which is how the sample's Message-ID is learned). The events of
 * every mailbox are counted, so a scenario can follow a backlog draining on the same stream.
 */
export class LatencyProbe {
  readonly #arrivals = new Map<string, Arrival>();
  readonly #committedAt = new Map<string, number>();
  readonly #twinCounts = new Map<string, number>();
  readonly #created = new Map<string, { count: number; lastAt: number }>();
  readonly #confirming = new Set<Promise<void>>();
  readonly #reader: InteractionReader;
  #stream: MailroomEventStream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polls = 0;
  #pollStart = 0;

  private constructor(
    private readonly api: ApiClient,
    private readonly bare: BareIdleProcess,
    private readonly probed: ReadonlySet<string>,
    private readonly db: MailroomDbReader | undefined,
  ) {
    this.#reader = new InteractionReader(api);
  }

  /**
   * Opens the event stream and, with `db`, the secondary poll of the SQLite file. Only the interactions
   * of `probedMailboxIds` are read through the API: reading a draining backlog's would add load.
   */
  static async start(opts: { api: ApiClient; bare: BareIdleProcess; probedMailboxIds: Iterable<string>; db?: MailroomDbReader }): Promise<LatencyProbe> {
    const probe = new LatencyProbe(opts.api, opts.bare, new Set(opts.probedMailboxIds), opts.db);
    probe.#stream = await MailroomEventStream.open(opts.api.base, opts.api.token, (e) => probe.onCreated(e));
    if (probe.db) {
      probe.db.skipExisting();
      probe.#pollStart = nowMs();
      probe.#timer = setInterval(() => probe.poll(), commitPollMs);
    }
    return probe;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stream?.close();
    await Promise.all(this.#confirming);
  }

  /** The observed mean time between two polls of the SQLite file, ms. */
  get meanPollIntervalMs(): number {
    return this.#polls ? round1((nowMs() - this.#pollStart) / this.#polls) : Number.NaN;
  }

  /** Interactions the event stream has announced for these mailboxes so far. */
  createdCount(mailboxIds: Iterable<string>): number {
    let n = 0;
    for (const id of mailboxIds) n += this.#created.get(id)?.count ?? 0;
    return n;
  }

  /** When the last event for one of these mailboxes arrived, or undefined. */
  lastCreatedAt(mailboxIds: Iterable<string>): number | undefined {
    let last: number | undefined;
    for (const id of mailboxIds) {
      const at = this.#created.get(id)?.lastAt;
      if (at !== undefined && (last === undefined || at > last)) last = at;
    }
    return last;
  }

  private poll(): void {
    const at = nowMs();
    this.#polls++;
    for (const id of this.db!.newMessageIds(this.probed)) if (!this.#committedAt.has(id)) this.#committedAt.set(id, at);
  }

  private onCreated(e: InteractionsCreated): void {
    const seen = this.#created.get(e.mailboxId) ?? { count: 0, lastAt: e.at };
    seen.count += e.interactionIds.length;
    seen.lastAt = e.at;
    this.#created.set(e.mailboxId, seen);
    if (!this.probed.has(e.mailboxId)) return;
    for (const interactionId of e.interactionIds) {
      const confirming = this.confirm(interactionId, e.at).finally(() => this.#confirming.delete(confirming));
      this.#confirming.add(confirming);
    }
  }

  /** Reads the interaction an event named, as the web UI would to show it. */
  private async confirm(interactionId: string, eventAt: number): Promise<void> {
    const read = await this.#reader.messageIdOf(interactionId);
    if (read) this.#arrivals.set(read.messageId, { eventAt, apiAt: read.apiAt });
  }

  /** APPENDs one message to both inboxes at once; resolves when both APPENDs completed. */
  async send(pair: MailboxPair, appenders: { mailroom: ImapFlow; twin: ImapFlow }, tag: string): Promise<PendingSample> {
    const messageId = `${tag}.${randomUUID()}@bench.example`;
    const raw = probeMessage(messageId, `latency probe ${tag}`);
    // the twin's APPENDs go over one connection in order, so its n-th message is its n-th EXISTS
    const twinCount = (this.#twinCounts.get(pair.twinUser) ?? 0) + 1;
    this.#twinCounts.set(pair.twinUser, twinCount);
    let mailroomAppendedAt = 0;
    let twinAppendedAt = 0;
    await Promise.all([
      appenders.mailroom.append("INBOX", raw).then((res) => {
        mailroomAppendedAt = nowMs();
        if (!res) throw new Error(`APPEND to ${pair.mailroomUser} failed`);
      }),
      appenders.twin.append("INBOX", raw).then((res) => {
        twinAppendedAt = nowMs();
        if (!res) throw new Error(`APPEND to ${pair.twinUser} failed`);
      }),
    ]);
    return { messageId, twinUser: pair.twinUser, twinCount, mailroomAppendedAt, twinAppendedAt };
  }

  private complete(s: PendingSample): boolean {
    return this.bare.existsAt(s.twinUser, s.twinCount) !== undefined && this.#arrivals.has(s.messageId);
  }

  /** Waits until both sides showed every sample, or the deadline passes. */
  async settle(samples: PendingSample[], deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until && samples.some((s) => !this.complete(s))) await sleep(5);
    const now = nowMs();
    for (const s of samples) if (!this.#arrivals.has(s.messageId)) s.gaveUpAt ??= now;
  }

  figures(samples: PendingSample[]): LatencyFigures {
    const rows: number[][] = [];
    let bareMissing = 0;
    let mailroomMissing = 0;
    for (const s of samples) {
      const exists = this.bare.existsAt(s.twinUser, s.twinCount);
      if (exists === undefined) {
        bareMissing++;
        continue;
      }
      const arrival = this.#arrivals.get(s.messageId);
      if (!arrival) mailroomMissing++;
      const waited = (s.gaveUpAt ?? nowMs()) - s.mailroomAppendedAt;
      const committed = this.#committedAt.get(s.messageId);
      rows.push([
        exists - s.twinAppendedAt,
        arrival ? arrival.eventAt - s.mailroomAppendedAt : waited,
        arrival ? arrival.apiAt - s.mailroomAppendedAt : waited,
        committed === undefined ? Number.NaN : committed - s.mailroomAppendedAt,
      ]);
    }
    const column = (i: number) => rows.map((r) => r[i]!).filter((v) => !Number.isNaN(v));
    const bare = summarize(column(0));
    const mailroom = summarize(column(1));
    return {
      sent: samples.length,
      bareMissing,
      mailroomMissing,
      bareMs: bare,
      mailroomMs: mailroom,
      apiConfirmMs: summarize(column(2)),
      commitSeenMs: summarize(column(3)),
      differenceMs: { p50: round1(mailroom.p50 - bare.p50), p99: round1(mailroom.p99 - bare.p99) },
      apiRetries: this.#reader.retries,
      apiErrors: this.#reader.errors,
      eventStreamEnded: this.#stream?.ended ?? null,
      sampleColumns,
      // a commit the poll missed stays out of its column; -1 marks it in the row
      samples: rows.map((r) => r.map((v) => (Number.isNaN(v) ? -1 : round1(v)))),
    };
  }
}
