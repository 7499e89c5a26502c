import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { EmulatorContext, EmulatorResponse, MailChange } from "./context.js";
import { folderIdXml, itemIdXml, resolveFolderNode, type EwsCall } from "./ews-call.js";
import { child, children, envelope, ewsTime, isTrue, responseBody, schemaFault, soapResponse, text, XML_CONTENT_TYPE, type ResponseMessage } from "./ews-xml.js";

/**
 * Streaming notifications (https://learn.microsoft.com/exchange/client-developer/exchange-web-services/notification-subscriptions-mailbox-events-and-ews-in-exchange):
 * Subscribe with a StreamingSubscriptionRequest, then GetStreamingEvents holds a chunked response open and writes one
 * complete SOAP envelope per batch of events, a heartbeat envelope when nothing happens, and a last one when it closes.
 */

/** A streaming subscription lives 30 minutes without a GetStreamingEvents connection (on the emulator's clock). */
const IDLE_LIFETIME_MS = 30 * 60_000;
const EVENT_TYPES = ["NewMailEvent", "CreatedEvent", "ModifiedEvent", "DeletedEvent", "MovedEvent", "CopiedEvent", "FreeBusyChangedEvent"];

interface Subscription {
  id: string;
  userId: string;
  /** null: SubscribeToAllFolders */
  folders: Set<string> | null;
  types: Set<string>;
  /** event elements not yet written to a stream */
  queue: string[];
  watermark: number;
  /** when it was last subscribed or connected (emulator clock, ms) */
  lastSeenMs: number;
  stream: Stream | null;
}

interface Stream {
  res: ServerResponse;
  subs: Set<Subscription>;
  timers: NodeJS.Timeout[];
  flushPending: boolean;
  done: boolean;
}

export interface StreamingSettings {
  heartbeatMs: number;
  /** shortens every new connection to this (tests); null: the ConnectionTimeout the client asked for */
  closeAfterMs: number | null;
}

/** Which EWS events a change to the mailbox raises. NewMailEvent is for mail that arrives, not for saved copies. */
function eventTypesOf(change: MailChange): string[] {
  if (change.changeType === "created") return change.folder === "sentitems" || change.folder === "drafts" ? ["CreatedEvent"] : ["NewMailEvent", "CreatedEvent"];
  return change.changeType === "updated" ? ["ModifiedEvent"] : ["DeletedEvent"];
}

function subscriptionIdsXml(subs: Subscription[] | string[]): string {
  return `<m:ErrorSubscriptionIds>${subs.map((s) => `<t:SubscriptionId>${text(typeof s === "string" ? s : s.id)}</t:SubscriptionId>`).join("")}</m:ErrorSubscriptionIds>`;
}

export class EwsStreaming {
  readonly settings: StreamingSettings = { heartbeatMs: 5_000, closeAfterMs: null };
  readonly #ctx: EmulatorContext;
  readonly #subs = new Map<string, Subscription>();
  readonly #streams = new Set<Stream>();
  readonly #onChange = (change: MailChange) => this.#queue(change);

  constructor(ctx: EmulatorContext) {
    this.#ctx = ctx;
    ctx.changes.on("change", this.#onChange);
  }

  #now(): number {
    return this.#ctx.state.now().getTime();
  }

  /** A subscription that has not expired; an expired one is removed here. */
  #live(id: string): Subscription | undefined {
    const sub = this.#subs.get(id);
    if (sub && !sub.stream && this.#now() - sub.lastSeenMs >= IDLE_LIFETIME_MS) {
      this.#subs.delete(id);
      return undefined;
    }
    return sub;
  }

  #queue(change: MailChange): void {
    const message = this.#ctx.state.messages.get(change.messageId);
    if (!message) return;
    for (const id of [...this.#subs.keys()]) {
      const sub = this.#live(id);
      if (!sub || sub.userId !== change.userId || (sub.folders !== null && !sub.folders.has(change.folder))) continue;
      for (const type of eventTypesOf(change)) {
        if (!sub.types.has(type)) continue;
        sub.watermark += 1;
        const watermark = Buffer.from(`${sub.id.slice(0, 12)}:${sub.watermark}`).toString("base64");
        sub.queue.push(
          `<t:${type}><t:Watermark>${watermark}</t:Watermark><t:TimeStamp>${ewsTime(this.#ctx.state.now())}</t:TimeStamp>` +
            `${itemIdXml(message)}${folderIdXml("ParentFolderId", message.userId, change.folder)}</t:${type}>`,
        );
      }
      if (sub.stream && sub.queue.length > 0) this.#scheduleFlush(sub.stream);
    }
  }

  subscribe(call: EwsCall): EmulatorResponse {
    if (child(call.op, "PullSubscriptionRequest") || child(call.op, "PushSubscriptionRequest")) {
      return soapResponse("Subscribe", [{ ok: false, code: "ErrorInvalidSubscriptionRequest" }]);
    }
    const request = child(call.op, "StreamingSubscriptionRequest");
    if (!request) return schemaFault("Subscribe needs a StreamingSubscriptionRequest.");
    const all = isTrue(request.attrs.SubscribeToAllFolders);
    const folderNodes = child(request, "FolderIds")?.children ?? [];
    if (!all && folderNodes.length === 0) return schemaFault("The element 'StreamingSubscriptionRequest' is missing 'FolderIds'.");
    const folders = new Set<string>();
    for (const node of folderNodes) {
      const found = resolveFolderNode(call, node);
      if (!found.ok) return soapResponse("Subscribe", [found]);
      folders.add(found.value);
    }
    const types = children(child(request, "EventTypes"), "EventType").map((t) => t.text);
    const unknown = types.find((t) => !EVENT_TYPES.includes(t));
    if (types.length === 0 || unknown !== undefined) return schemaFault(`The 'EventType' element is invalid - The value '${unknown ?? ""}' is invalid.`);
    const sub: Subscription = {
      id: randomBytes(24).toString("base64"),
      userId: call.user.id,
      folders: all ? null : folders,
      types: new Set(types),
      queue: [],
      watermark: 0,
      lastSeenMs: this.#now(),
      stream: null,
    };
    this.#subs.set(sub.id, sub);
    return soapResponse("Subscribe", [{ ok: true, xml: `<m:SubscriptionId>${text(sub.id)}</m:SubscriptionId>` }]);
  }

  unsubscribe(call: EwsCall): EmulatorResponse {
    const id = child(call.op, "SubscriptionId")?.text ?? "";
    const sub = this.#live(id);
    if (!sub || sub.userId !== call.user.id) return soapResponse("Unsubscribe", [{ ok: false, code: "ErrorSubscriptionNotFound" }]);
    this.#subs.delete(sub.id);
    const stream = sub.stream;
    if (stream) {
      // the client ended it itself: its stream goes on for the others, or closes when none is left
      stream.subs.delete(sub);
      sub.stream = null;
      if (stream.subs.size === 0) this.#close(stream);
    }
    return soapResponse("Unsubscribe", [{ ok: true, xml: "" }]);
  }

  getStreamingEvents(call: EwsCall): EmulatorResponse {
    const ids = children(child(call.op, "SubscriptionIds"), "SubscriptionId").map((s) => s.text);
    const timeoutText = child(call.op, "ConnectionTimeout")?.text ?? "";
    const minutes = /^\d+$/.test(timeoutText) ? Number(timeoutText) : NaN;
    if (ids.length === 0) return schemaFault("GetStreamingEvents needs at least one SubscriptionId.");
    if (!(minutes >= 1 && minutes <= 30)) return schemaFault(`The 'ConnectionTimeout' element is invalid - The value '${timeoutText}' is invalid (1 to 30).`);
    const subs: Subscription[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const sub = this.#live(id);
      if (sub && sub.userId === call.user.id) subs.push(sub);
      else missing.push(id);
    }
    if (missing.length > 0) return soapResponse("GetStreamingEvents", [{ ok: false, code: "ErrorSubscriptionNotFound", xml: subscriptionIdsXml(missing) }]);
    const lifetime = Math.min(minutes * 60_000, this.settings.closeAfterMs ?? Infinity);
    return { status: 200, headers: { "content-type": XML_CONTENT_TYPE }, stream: (res) => this.#open(res, subs, lifetime) };
  }

  #open(res: ServerResponse, subs: Subscription[], lifetimeMs: number): void {
    const stream: Stream = { res, subs: new Set(subs), timers: [], flushPending: false, done: false };
    this.#streams.add(stream);
    for (const sub of subs) {
      // a subscription has one connection at a time: the older one lets go of it
      const older = sub.stream;
      if (older && older !== stream) {
        older.subs.delete(sub);
        if (older.subs.size === 0) this.#close(older);
      }
      sub.stream = stream;
      sub.lastSeenMs = this.#now();
    }
    res.on("close", () => this.#finish(stream));
    stream.timers.push(setInterval(() => this.#write(stream, { ok: true, xml: "<m:ConnectionStatus>OK</m:ConnectionStatus>" }), this.settings.heartbeatMs));
    stream.timers.push(setTimeout(() => this.#close(stream), lifetimeMs));
    this.#flush(stream);
  }

  #scheduleFlush(stream: Stream): void {
    if (stream.flushPending) return;
    stream.flushPending = true;
    // events raised together (a send delivering to several folders) go out in one envelope
    setImmediate(() => {
      stream.flushPending = false;
      this.#flush(stream);
    });
  }

  #flush(stream: Stream): void {
    const notifications: string[] = [];
    for (const sub of stream.subs) {
      if (sub.queue.length === 0) continue;
      notifications.push(`<m:Notification><t:SubscriptionId>${text(sub.id)}</t:SubscriptionId>${sub.queue.join("")}</m:Notification>`);
      sub.queue = [];
    }
    if (notifications.length > 0) {
      this.#write(stream, { ok: true, xml: `<m:Notifications>${notifications.join("")}</m:Notifications><m:ConnectionStatus>OK</m:ConnectionStatus>` });
    }
  }

  #write(stream: Stream, message: ResponseMessage): void {
    if (stream.done || stream.res.writableEnded || stream.res.destroyed) return;
    stream.res.write(envelope(responseBody("GetStreamingEvents", [message])));
  }

  /** The connection's time is up (or nothing is left on it): a last envelope saying Closed, then the end. */
  #close(stream: Stream): void {
    this.#write(stream, { ok: true, xml: "<m:ConnectionStatus>Closed</m:ConnectionStatus>" });
    this.#finish(stream);
  }

  #finish(stream: Stream): void {
    if (stream.done) return;
    stream.done = true;
    for (const t of stream.timers) clearTimeout(t);
    for (const sub of stream.subs) {
      if (sub.stream === stream) sub.stream = null;
      sub.lastSeenMs = this.#now();
    }
    this.#streams.delete(stream);
    // a client that went away ends the stream without an error; only a live response is ended
    if (!stream.res.writableEnded && !stream.res.destroyed) stream.res.end();
  }

  /** Removes a user's subscriptions, as a mailbox move or a server restart does; their open streams get the error and end. */
  drop(userId: string): number {
    const dropped = [...this.#subs.values()].filter((s) => s.userId === userId);
    const streams = new Map<Stream, Subscription[]>();
    for (const sub of dropped) {
      this.#subs.delete(sub.id);
      if (sub.stream) streams.set(sub.stream, [...(streams.get(sub.stream) ?? []), sub]);
    }
    for (const [stream, subs] of streams) {
      this.#write(stream, { ok: false, code: "ErrorSubscriptionNotFound", xml: subscriptionIdsXml(subs) });
      this.#finish(stream);
    }
    return dropped.length;
  }

  /** Every live subscription, for GET /_emulator/ews/subscriptions. */
  list(): { id: string; userId: string; folders: string[] | "all"; eventTypes: string[]; queued: number; connected: boolean }[] {
    return [...this.#subs.keys()]
      .map((id) => this.#live(id))
      .filter((s): s is Subscription => s !== undefined)
      .map((s) => ({ id: s.id, userId: s.userId, folders: s.folders ? [...s.folders] : "all", eventTypes: [...s.types], queued: s.queue.length, connected: s.stream !== null }));
  }

  /** The emulator is closing: every stream ends (the connections go right after). */
  stop(): void {
    this.#ctx.changes.off("change", this.#onChange);
    for (const stream of [...this.#streams]) this.#finish(stream);
  }
}
