import { randomUUID } from "node:crypto";
import type { ImapFlow } from "imapflow";
import { nowMs, sleep } from "../lib/clock.js";
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
}

export interface LatencyFigures {
  sent: number;
  /** samples not seen by both sides before the deadline */
  missing: number;
  bareAppendToExistsMs: Summary;
  mailroomAppendToCommittedMs: Summary;
  /** Mailroom's p50 and p99 minus the bare client's */
  differenceMs: { p50: number; p99: number };
  /** [bare, mailroom] per message, ms */
  samples: [number, number][];
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
 * from the APPEND's completion to the moment the side has the message: the bare client's EXISTS, and
 * Mailroom's committed interaction, found by its Message-ID in the SQLite file polled every 2 ms.
 */
export class LatencyProbe {
  readonly #committedAt = new Map<string, number>();
  readonly #twinCounts = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #polls = 0;
  #pollStart = 0;

  constructor(
    private readonly db: MailroomDbReader,
    private readonly bare: BareIdleProcess,
  ) {}

  start(): void {
    this.db.skipExisting();
    this.#pollStart = nowMs();
    this.#timer = setInterval(() => this.poll(), commitPollMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The observed mean time between two polls of the SQLite file, ms. */
  get meanPollIntervalMs(): number {
    return this.#polls ? round1((nowMs() - this.#pollStart) / this.#polls) : Number.NaN;
  }

  private poll(): void {
    const at = nowMs();
    this.#polls++;
    for (const id of this.db.newMessageIds()) if (!this.#committedAt.has(id)) this.#committedAt.set(id, at);
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

  private observed(s: PendingSample): { bare: number; mailroom: number } | null {
    const committed = this.#committedAt.get(s.messageId);
    const exists = this.bare.existsAt(s.twinUser, s.twinCount);
    if (committed === undefined || exists === undefined) return null;
    return { bare: exists - s.twinAppendedAt, mailroom: committed - s.mailroomAppendedAt };
  }

  /** Waits until both sides saw the sample, or the deadline passes. */
  async settle(samples: PendingSample[], deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until && samples.some((s) => this.observed(s) === null)) await sleep(5);
  }

  figures(samples: PendingSample[]): LatencyFigures {
    const seen = samples.map((s) => this.observed(s)).filter((o) => o !== null);
    const bare = summarize(seen.map((o) => o.bare));
    const mailroom = summarize(seen.map((o) => o.mailroom));
    return {
      sent: samples.length,
      missing: samples.length - seen.length,
      bareAppendToExistsMs: bare,
      mailroomAppendToCommittedMs: mailroom,
      differenceMs: { p50: round1(mailroom.p50 - bare.p50), p99: round1(mailroom.p99 - bare.p99) },
      samples: seen.map((o) => [round1(o.bare), round1(o.mailroom)]),
    };
  }
}
