import { sleep } from "../../shared/sleep.js";
import {
  MailSourceError,
  MessageRefusedError,
  maildropId,
  type AckOutcome,
  type FetchRequest,
  type Listing,
  type MailSession,
  type MailSource,
  type MailSourceSettings,
  type SessionTraits,
  type SourceMessage,
} from "../mail-source.js";
import { parseRoundCursor, roundCursor, roundListing, unseenSinceOf } from "../round-listing.js";
import { ewsClientFor, ewsUrl, type EwsClient } from "./ews-client.js";
import * as ops from "./ews-operations.js";
import { child, children, mimeContentOf, text, type ResponseMessage } from "./ews-xml.js";

export interface EwsSourceOptions {
  /** certificates trusted for the EWS endpoint besides Node's roots */
  ca: string[] | undefined;
  timeoutMs: number;
  /** without a streaming subscription (the server refused one), how often the Inbox is synchronised */
  pollMs?: number;
}

/** EWS's limit on one SyncFolderItems answer */
const maxChanges = 512;
/** a GetItem asks for at most this many messages, and for more than one only while their sizes add up to less than this */
const fetchBatch = { items: 20, bytes: 8 * 1024 * 1024 };
/** message errors that mean the message is gone, not refused */
const goneCodes = new Set(["ErrorItemNotFound", "ErrorInvalidIdMalformed", "ErrorInvalidIdNotAnItemAttachmentId", "ErrorMoveCopyFailed"]);

/** how one GetStreamingEvents connection ended */
type Heard = "changed" | "lost" | "closed" | "silent";

/**
 * An Exchange mailbox's Inbox through Exchange Web Services. The cursor is the SyncFolderItems sync state
 * of the last complete round; news comes from a streaming subscription (GetStreamingEvents) made before
 * each sync lists, so nothing that arrives between a listing and the next wait goes unnoticed, and
 * every sync is a SyncFolderItems round, so a missed notification delays nothing beyond the next one.
 * Messages are taken as MIME (GetItem MimeContent) and acknowledged by IsRead = true, without a read receipt.
 */
export class EwsSource implements MailSource {
  readonly protocol = "EWS" as const;
  readonly maildrop: string;
  readonly connected = false;
  readonly #settings: MailSourceSettings;
  readonly #options: EwsSourceOptions;
  /** syncs; its connection stays signed in while a stream ends and a new one starts */
  readonly #client: EwsClient;
  /**
   * GetStreamingEvents, on a connection of its own: a stream is ended by dropping its connection, and on
   * the sync's connection that meant a new TLS connection and NTLM sign-in between every wake and its sync
   */
  readonly #streams: EwsClient;
  readonly #abort = new AbortController();
  #subscription: string | null = null;
  /** ends the GetStreamingEvents connection under way */
  #listening: AbortController | null = null;
  #warnings: { code: "notifications_unavailable"; message: string }[] = [];
  #refusalWarned = false;

  constructor(settings: MailSourceSettings, options: EwsSourceOptions) {
    this.#settings = settings;
    this.#options = options;
    this.maildrop = maildropId("EWS", ewsUrl(settings).host, settings.login.toLowerCase(), "inbox");
    const clientOptions = { ca: options.ca, timeoutMs: options.timeoutMs, signal: this.#abort.signal, throttle: { pausedUntil: 0 } };
    this.#client = ewsClientFor(settings, clientOptions);
    this.#streams = ewsClientFor(settings, clientOptions);
  }

  async open(): Promise<MailSession> {
    await this.#subscribe();
    return new EwsSession(this.#client, this.#settings);
  }

  async waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted"> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (signal.aborted) return "aborted";
      if (left <= 0) return "timeout";
      const subscription = this.#subscription;
      if (subscription === null) {
        await sleep(Math.min(left, this.#options.pollMs ?? 60_000), signal);
        return signal.aborted ? "aborted" : "timeout";
      }
      let heard: Heard;
      try {
        heard = await this.#listen(subscription, left, signal);
      } catch (err) {
        // throttling delays the push, it does not break the mailbox: the next stream waits out the back-off
        if (err instanceof MailSourceError && err.code === "throttled") continue;
        throw err;
      }
      if (heard === "changed") return "changed";
      if (heard === "lost") {
        // Exchange no longer has the subscription (a restart, a mailbox move): the sync that follows makes a new one
        this.#subscription = null;
        return "changed";
      }
      if (heard === "silent") await sleep(Math.min(deadline - Date.now(), 5_000), signal);
    }
  }

  async close(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = null;
    this.#listening?.abort();
    if (subscription !== null) {
      // Exchange keeps an unused subscription for 30 minutes and allows few per mailbox: a restarting runner gives its own back
      await Promise.race([this.#client.call(ops.unsubscribe(subscription)).catch(() => undefined), sleep(2_000)]);
    }
    this.#abort.abort();
    this.#client.close();
    this.#streams.close();
  }

  takeWarnings(): { code: "notifications_unavailable"; message: string }[] {
    const taken = this.#warnings;
    this.#warnings = [];
    return taken;
  }

  async #subscribe(): Promise<void> {
    if (this.#subscription !== null) return;
    const refused = (said: string) => {
      // said once until a subscription is had again: every sync tries anew, and a warning per poll would drown the others
      if (this.#refusalWarned) return;
      this.#refusalWarned = true;
      this.#warnings.push({
        code: "notifications_unavailable",
        message: `Exchange would not keep a streaming subscription for ${this.#settings.login}, so new mail is found by polling every ${Math.round((this.#options.pollMs ?? 60_000) / 1000)} s: ${said}`,
      });
    };
    try {
      const [answer] = await this.#client.call(ops.subscribeInbox());
      const id = answer?.responseClass === "Success" ? text(answer.node, "SubscriptionId") : "";
      if (id !== "") {
        this.#subscription = id;
        this.#refusalWarned = false;
      } else refused(answer ? `${answer.code}: ${answer.text}` : "no answer");
    } catch (err) {
      // the sync that follows meets the same trouble and reports it; throttling only costs the push
      if (!(err instanceof MailSourceError) || err.code !== "throttled") throw err;
      refused(err.serverText ?? err.message);
    }
  }

  /** One GetStreamingEvents connection: until an event, the subscription's loss, the server's close or the deadline */
  async #listen(subscription: string, leftMs: number, signal: AbortSignal): Promise<Heard> {
    const stop = new AbortController();
    this.#listening = stop;
    const timer = setTimeout(() => stop.abort(), leftMs);
    let heard: "changed" | "lost" | null = null;
    let envelopes = 0;
    const minutes = Math.min(30, Math.max(1, Math.ceil(leftMs / 60_000)));
    try {
      await this.#streams.stream(ops.streamEvents(subscription, minutes), AbortSignal.any([signal, stop.signal]), (messages: ResponseMessage[]) => {
        envelopes += 1;
        for (const m of messages) {
          if (m.responseClass === "Error") heard = "lost";
          else if (children(child(m.node, "Notifications"), "Notification").some(hasMailEvent)) heard ??= "changed";
        }
        if (heard !== null) stop.abort();
      });
    } finally {
      clearTimeout(timer);
      this.#listening = null;
    }
    if (heard !== null) return heard;
    return envelopes === 0 && !signal.aborted && !stop.signal.aborted ? "silent" : "closed";
  }
}

function hasMailEvent(notification: ReturnType<typeof child>): boolean {
  return child(notification, "NewMailEvent") !== undefined || child(notification, "CreatedEvent") !== undefined;
}

class EwsSession implements MailSession {
  readonly traits: SessionTraits = { keysMayBeReused: false, ackRemoves: false };
  /** what the listing said of each key: spares a request per message for its size */
  readonly #listed = new Map<string, { size: number; receivedAt: string }>();

  constructor(
    private readonly client: EwsClient,
    private readonly settings: MailSourceSettings,
  ) {}

  async list(cursor: string | null): Promise<Listing> {
    const stored = parseRoundCursor(cursor, "syncState");
    const unseenSince = unseenSinceOf(stored, this.settings);
    let syncState = stored?.position ?? null;
    const found = new Map<string, { receivedAt: string; size: number; isRead: boolean }>();
    for (let last = false; !last; ) {
      const [answer] = await this.client.call(ops.syncInbox(syncState, maxChanges));
      if (answer?.code === "ErrorInvalidSyncStateData" && stored?.position) {
        // Exchange lost or will not take the sync state: a new round from the start; stored keys are recognised as such
        return this.list(roundCursor("syncState", null, unseenSince));
      }
      const page = ops.readSyncPage(ops.single(answer ? [answer] : [], this.settings.login, this.client.host));
      for (const item of page.created) found.set(item.id, item);
      for (const id of page.deleted) found.delete(id);
      syncState = page.syncState;
      last = page.last;
    }
    for (const [id, m] of found) this.#listed.set(id, { size: m.size, receivedAt: m.receivedAt });
    // the sync state covers the whole round
    return roundListing(found, unseenSince, cursor, roundCursor("syncState", syncState, unseenSince));
  }

  async sizes(keys: string[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const unknown: string[] = [];
    for (const key of keys) {
      const listed = this.#listed.get(key);
      if (listed) sizes.set(key, listed.size);
      else unknown.push(key);
    }
    for (let i = 0; i < unknown.length; i += 100) {
      const batch = unknown.slice(i, i + 100);
      const answers = await this.client.call(ops.getSizes(batch));
      answers.forEach((answer, n) => {
        const key = batch[n];
        if (key === undefined || answer.responseClass === "Error") return;
        sizes.set(key, Number(text(ops.itemOf(child(answer.node, "Items")), "Size")) || 0);
      });
    }
    return sizes;
  }

  async fetch(requests: FetchRequest[]): Promise<SourceMessage[]> {
    const messages: SourceMessage[] = [];
    const refused: { key: string; said: string }[] = [];
    for (const batch of this.#batches(requests)) {
      const headersOnly = batch[0]?.headersOnly ?? false;
      const answers = await this.client.call(ops.getItems(batch.map((r) => r.key), headersOnly));
      answers.forEach((answer, n) => {
        const key = batch[n]?.key;
        if (key === undefined) return;
        if (answer.responseClass === "Error") {
          if (goneCodes.has(answer.code)) return;
          refused.push({ key, said: `${answer.code}: ${answer.text}` });
          return;
        }
        const item = ops.itemOf(child(answer.node, "Items"));
        const received = text(item, "DateTimeReceived");
        const receivedAt = received === "" ? null : new Date(received);
        const size = Number(text(item, "Size"));
        if (headersOnly) {
          const raw = ops.headerBlockOf(item);
          messages.push({ sourceKey: key, raw, size: Number.isFinite(size) && size > 0 ? size : raw.length, truncated: true, receivedAt });
        } else {
          const raw = mimeContentOf(item, answer.lifted);
          messages.push({ sourceKey: key, raw, size: raw.length, truncated: false, receivedAt });
        }
      });
    }
    if (refused.length > 0) {
      throw new MessageRefusedError(
        refused.map((r) => r.key),
        `Exchange would not hand over ${refused.length} message(s) of ${this.settings.login}`,
        refused[0]!.said,
      );
    }
    return messages;
  }

  async acknowledge(keys: string[]): Promise<AckOutcome> {
    const done: string[] = [];
    const refused: string[] = [];
    let serverText = "";
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      const answers = await this.client.call(ops.markRead(batch));
      answers.forEach((answer, n) => {
        const key = batch[n];
        if (key === undefined) return;
        if (answer.responseClass !== "Error" || goneCodes.has(answer.code)) done.push(key);
        else if (answer.code === "ErrorAccessDenied") {
          refused.push(key);
          serverText = `${answer.code}: ${answer.text}`;
        } else throw ops.mailboxError(answer, this.settings.login, this.client.host);
      });
    }
    return { done, pending: [], refused: refused.length > 0 ? { keys: refused, serverText } : null };
  }

  finish(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** GetItem requests: header-only ones apart, whole ones by count and by their listed sizes */
  *#batches(requests: FetchRequest[]): Generator<FetchRequest[]> {
    for (const headersOnly of [false, true]) {
      let batch: FetchRequest[] = [];
      let bytes = 0;
      for (const request of requests.filter((r) => r.headersOnly === headersOnly)) {
        const size = headersOnly ? 0 : (this.#listed.get(request.key)?.size ?? 0);
        if (batch.length > 0 && (batch.length >= fetchBatch.items || bytes + size > fetchBatch.bytes)) {
          yield batch;
          batch = [];
          bytes = 0;
        }
        batch.push(request);
        bytes += size;
      }
      if (batch.length > 0) yield batch;
    }
  }
}
