import type { ApiClient } from "../../test/support/mailroom-process.js";
import { sleep } from "./clock.js";
import { MailroomEventStream, type InteractionsCreated } from "./event-stream.js";
import { InteractionReader } from "./interaction-reader.js";

/** When a message became visible to a user of Mailroom. */
export interface Shown {
  /** the interaction.created event that named its (first) interaction was read from the event stream */
  eventAt: number;
  /** GET /api/v1/interactions/:id answered 200 with it */
  apiAt: number;
}

/**
 * What a user of Mailroom sees of one mailbox: one `GET /api/v1/events` stream held open with a bearer
 * token, and for every interaction an `interaction.created` event names, a `GET /api/v1/interactions/:id`
 * (a 404 tried again every 5 ms) that gives its Message-ID. Keeps, per Message-ID, when it was first
 * shown and how many interactions named it, and every event's arrival (for throughput over time).
 */
export class MailroomProbe {
  readonly #shown = new Map<string, Shown>();
  readonly #interactionsPerMessage = new Map<string, number>();
  readonly #confirming = new Set<Promise<void>>();
  readonly #reader: InteractionReader;
  /** eventAt of every interaction of the mailbox, in arrival order */
  readonly eventTimes: number[] = [];
  #stream: MailroomEventStream | undefined;

  private constructor(
    api: ApiClient,
    private readonly mailboxId: string,
  ) {
    this.#reader = new InteractionReader(api);
  }

  static async start(api: ApiClient, mailboxId: string): Promise<MailroomProbe> {
    const probe = new MailroomProbe(api, mailboxId);
    probe.#stream = await MailroomEventStream.open(api.base, api.token, (e) => probe.onCreated(e));
    return probe;
  }

  private onCreated(e: InteractionsCreated): void {
    if (e.mailboxId !== this.mailboxId) return;
    for (const interactionId of e.interactionIds) {
      this.eventTimes.push(e.at);
      const confirming = this.confirm(interactionId, e.at).finally(() => this.#confirming.delete(confirming));
      this.#confirming.add(confirming);
    }
  }

  private async confirm(interactionId: string, eventAt: number): Promise<void> {
    const read = await this.#reader.messageIdOf(interactionId);
    if (!read) return;
    const { messageId, apiAt } = read;
    this.#interactionsPerMessage.set(messageId, (this.#interactionsPerMessage.get(messageId) ?? 0) + 1);
    const seen = this.#shown.get(messageId);
    if (!seen || seen.eventAt > eventAt) this.#shown.set(messageId, { eventAt, apiAt });
  }

  shown(messageId: string): Shown | undefined {
    return this.#shown.get(messageId);
  }

  /** interactions the event stream named for this mailbox so far */
  get created(): number {
    return this.eventTimes.length;
  }

  /** Message-IDs named by more than one interaction, with their counts (as the events told) */
  duplicates(): Record<string, number> {
    return Object.fromEntries([...this.#interactionsPerMessage].filter(([, n]) => n > 1));
  }

  /** Waits until every Message-ID was shown, or the deadline passes; answers how many are still missing. */
  async settle(messageIds: readonly string[], deadlineMs: number): Promise<number> {
    const until = Date.now() + deadlineMs;
    let missing = messageIds.filter((id) => !this.#shown.has(id)).length;
    while (missing > 0 && Date.now() < until) {
      await sleep(20);
      missing = messageIds.filter((id) => !this.#shown.has(id)).length;
    }
    return missing;
  }

  get apiRetries(): number {
    return this.#reader.retries;
  }

  get apiErrors(): string[] {
    return this.#reader.errors;
  }

  get streamEnded(): string | null {
    return this.#stream?.ended ?? null;
  }

  async stop(): Promise<void> {
    this.#stream?.close();
    await Promise.all(this.#confirming);
  }
}

/** Every interaction of the mailbox through GET /api/v1/interactions (paged): how many per Message-ID. */
export async function interactionsByMessageId(api: ApiClient, mailboxId: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const page: { items: { messageId: string | null }[]; nextCursor: string | null } = await api.call(
      "GET",
      `/api/v1/interactions?mailboxId=${encodeURIComponent(mailboxId)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    for (const item of page.items) {
      const id = (item.messageId ?? "").replace(/^<|>$/g, "");
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return counts;
}
