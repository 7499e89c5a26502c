import { randomBytes } from "node:crypto";
import { corpusSeeds, generateCorpus, type CorpusName } from "../corpus.js";
import { nowMs, sleep } from "./clock.js";
import { median } from "./stats.js";

/** One message handed to the mail server under test, timed from this process. */
export interface Delivery {
  /** the server's id of the new message (the emulator's: Graph's message id, which is also EWS's ItemId) */
  itemId: string;
  /** CLOCK_MONOTONIC ms when the delivery request went out and when its answer had been read */
  sentAt: number;
  returnedAt: number;
}

/** Whatever takes a message for a user and says when: the Microsoft emulator's POST /_emulator/deliver. */
export interface Deliverer {
  deliver(to: string, raw: Buffer): Promise<Delivery>;
}

export interface BenchMessage {
  /** the Message-ID (without brackets), unique to this run: how Mailroom's interaction is matched to it */
  messageId: string;
  raw: Buffer;
}

/** One run's tag in every Message-ID, so that no two runs (or phases) share one. */
const runTag = randomBytes(4).toString("hex");

/**
 * `count` messages of the corpus at its own seed (the same bytes every run), each with its Message-ID
 * replaced by `<tag>-<i>.<run>@bench.example`; the rest of the message is left byte for byte.
 */
export function corpusMessages(corpus: CorpusName, count: number, tag: string): BenchMessage[] {
  const list: BenchMessage[] = [];
  let i = 0;
  for (const { raw } of generateCorpus({ count, seed: corpusSeeds[corpus], name: corpus })) {
    const messageId = `${tag}-${i++}.${runTag}@bench.example`;
    list.push({ messageId, raw: withMessageId(raw, messageId) });
  }
  return list;
}

function withMessageId(raw: Buffer, messageId: string): Buffer {
  // latin1 keeps every byte as it is
  const text = raw.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const replaced = /^Message-ID:[^\r\n]*/im.test(head) ? head.replace(/^Message-ID:[^\r\n]*/im, `Message-ID: <${messageId}>`) : `Message-ID: <${messageId}>\r\n${head}`;
  return Buffer.from(replaced + (end < 0 ? "" : text.slice(end)), "latin1");
}

export function sizes(messages: BenchMessage[]): { medianBytes: number; maxBytes: number; totalMb: number } {
  const bytes = messages.map((m) => m.raw.length);
  return { medianBytes: median(bytes), maxBytes: Math.max(...bytes), totalMb: Math.round((bytes.reduce((a, b) => a + b, 0) / 1024 / 1024) * 10) / 10 };
}

export interface Delivered extends Delivery {
  messageId: string;
  /** when this delivery was due on the schedule */
  dueAt: number;
}

/**
 * Delivers the messages to `user` one at a time on a fixed schedule (message i is due at start + i ×
 * intervalMs; one that is late because the previous delivery took longer goes at once). Stops early
 * when `keepGoing` says so.
 */
export async function deliverPaced(
  target: Deliverer,
  user: string,
  messages: BenchMessage[],
  intervalMs: number,
  opts: { keepGoing?: () => boolean; startAt?: number } = {},
): Promise<{ delivered: Delivered[]; lateMaxMs: number }> {
  const start = opts.startAt ?? nowMs();
  const delivered: Delivered[] = [];
  let lateMaxMs = 0;
  for (let i = 0; i < messages.length; i++) {
    const dueAt = start + i * intervalMs;
    await sleep(Math.max(0, dueAt - nowMs()));
    if (opts.keepGoing && !opts.keepGoing()) break;
    lateMaxMs = Math.max(lateMaxMs, nowMs() - dueAt);
    const message = messages[i]!;
    delivered.push({ messageId: message.messageId, dueAt, ...(await target.deliver(user, message.raw)) });
  }
  return { delivered, lateMaxMs: Math.round(lateMaxMs) };
}
