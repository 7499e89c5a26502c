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
import { parseRoundCursor, roundCursor, roundListing, unseenSinceOf, type RoundMessage } from "../round-listing.js";
import { GraphClient, GraphRequestError } from "./graph-client.js";
import { GraphNotificationHub, type HeldSubscription } from "./graph-notifications.js";

export interface GraphSourceOptions {
  /** where notifications arrive; null: the mailbox polls with delta queries only */
  hub: GraphNotificationHub | null;
  /** certificates trusted for Graph besides Node's roots */
  ca: string[] | undefined;
  timeoutMs: number;
  /** how long a subscription is asked for; renewed when less than half is left */
  subscriptionMinutes?: number;
  now?: () => Date;
}

interface DeltaPage {
  value?: { id: string; isRead?: boolean; receivedDateTime?: string; "@removed"?: unknown }[];
  "@odata.nextLink"?: string;
  "@odata.deltaLink"?: string;
}

interface SizedPage {
  value?: { id: string; singleValueExtendedProperties?: { id: string; value: string }[] }[];
  "@odata.nextLink"?: string;
}

/** Graph's message size, PidTagMessageSize (https://learn.microsoft.com/office/client-developer/outlook/mapi/pidtagmessagesize-canonical-property) */
const sizeProperty = "Integer 0x0E08";
/** Outlook messages allow at most 10,070 minutes (https://learn.microsoft.com/graph/api/resources/subscription#subscription-lifetime) */
const defaultSubscriptionMinutes = 4230;

/**
 * A Microsoft 365 mailbox's Inbox through Microsoft Graph. The cursor is the delta link of the last
 * complete delta round; news arrives as change notifications (when Mailroom has a public URL), which
 * only wake the runner: every sync is a delta query, so a dropped notification delays nothing beyond
 * the next catch-up. Messages are taken as MIME ($value) and acknowledged by isRead = true.
 */
export class GraphSource implements MailSource {
  readonly protocol = "GRAPH" as const;
  readonly maildrop: string;
  readonly connected = false;
  readonly #settings: MailSourceSettings;
  readonly #options: GraphSourceOptions;
  readonly #client: GraphClient;
  readonly #abort = new AbortController();
  #warnings: { code: "notifications_unavailable"; message: string }[] = [];

  constructor(settings: MailSourceSettings, options: GraphSourceOptions) {
    this.#settings = settings;
    this.#options = options;
    this.maildrop = maildropId("GRAPH", settings.host, settings.login.toLowerCase(), "inbox");
    const port = settings.port === 443 ? "" : `:${settings.port}`;
    this.#client = new GraphClient({
      baseUrl: `https://${settings.host}${port}`,
      login: settings.login,
      credentials: settings.credentials,
      ca: options.ca,
      timeoutMs: options.timeoutMs,
      signal: this.#abort.signal,
    });
  }

  async open(): Promise<MailSession> {
    await this.#keepSubscription();
    return new GraphSession(this.#client, this.#settings);
  }

  async waitForChange(timeoutMs: number, signal: AbortSignal): Promise<"changed" | "timeout" | "aborted"> {
    // notifications wake the runner from outside (GraphNotificationHub → the runner's wake signal)
    await sleep(timeoutMs, signal);
    return signal.aborted ? "aborted" : "timeout";
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#client.close();
  }

  takeWarnings(): { code: "notifications_unavailable"; message: string }[] {
    const taken = this.#warnings;
    this.#warnings = [];
    return taken;
  }

  /** Creates the mailbox's subscription, renews it when half its time is gone or Graph asked, recreates it when Graph removed it. */
  async #keepSubscription(): Promise<void> {
    const hub = this.#options.hub;
    if (!hub?.notificationUrl) return;
    const now = this.#options.now?.() ?? new Date();
    const minutes = this.#options.subscriptionMinutes ?? defaultSubscriptionMinutes;
    const expirationDateTime = new Date(now.getTime() + minutes * 60_000).toISOString();
    const mailboxId = this.#settings.mailboxId;
    const held = hub.held(mailboxId);
    try {
      if (held && !held.recreate) {
        const halfLeft = held.expiresAt.getTime() - now.getTime() < (minutes * 60_000) / 2;
        if (!halfLeft && !held.renew) return;
        try {
          await this.#client.json("PATCH", `/v1.0/subscriptions/${encodeURIComponent(held.id)}`, { expirationDateTime });
          held.expiresAt = new Date(expirationDateTime);
          held.renew = false;
          return;
        } catch (err) {
          // gone at Graph (expired while Mailroom was down, removed): make a new one below
          if (!(err instanceof GraphRequestError && err.status === 404)) throw err;
        }
      }
      if (held) {
        await this.#client.request("DELETE", `/v1.0/subscriptions/${encodeURIComponent(held.id)}`).catch(() => undefined);
        hub.release(mailboxId);
      }
      const clientState = GraphNotificationHub.newClientState();
      const created = await this.#client.json<{ id: string; expirationDateTime: string }>("POST", "/v1.0/subscriptions", {
        changeType: "created",
        notificationUrl: hub.notificationUrl,
        ...(hub.lifecycleUrl ? { lifecycleNotificationUrl: hub.lifecycleUrl } : {}),
        resource: `users/${this.#settings.login}/mailFolders('Inbox')/messages`,
        expirationDateTime,
        clientState,
      });
      const subscription: HeldSubscription = { id: created.id, clientState, expiresAt: new Date(created.expirationDateTime), renew: false, recreate: false };
      hub.hold(mailboxId, subscription);
    } catch (err) {
      // no notifications: the mailbox still takes its mail with delta queries on the catch-up timer
      if (err instanceof MailSourceError && err.code !== "throttled" && err.code !== "timeout") throw err;
      const reason = err instanceof Error ? err.message : String(err);
      if (hub.failed(mailboxId)) this.#warnings.push({ code: "notifications_unavailable", message: `Microsoft Graph would not keep a change subscription for ${this.#settings.login}, so new mail is found by the periodic catch-up only: ${reason}` });
    }
  }
}

class GraphSession implements MailSession {
  readonly traits: SessionTraits = { keysMayBeReused: false, ackRemoves: false };
  /** receivedDateTime of each listed key: sizes are asked for a window's time range in one listing */
  readonly #received = new Map<string, string>();

  constructor(
    private readonly client: GraphClient,
    private readonly settings: MailSourceSettings,
  ) {}

  async list(cursor: string | null): Promise<Listing> {
    const stored = parseRoundCursor(cursor, "delta");
    const unseenSince = unseenSinceOf(stored, this.settings);
    let url = stored?.position ?? this.client.userPath("/mailFolders/inbox/messages/delta?$select=id,isRead,receivedDateTime");
    const found = new Map<string, RoundMessage>();
    let deltaLink: string | null = null;
    while (deltaLink === null) {
      let page: DeltaPage;
      try {
        page = await this.client.json<DeltaPage>("GET", url, undefined, { prefer: "odata.maxpagesize=200" });
      } catch (err) {
        // the delta link expired at Graph: start a new round; stored keys are recognised as such
        if (err instanceof GraphRequestError && err.status === 410 && stored?.position) return this.list(roundCursor("delta", null, unseenSince));
        throw mapped(err, this.settings.login);
      }
      for (const item of page.value ?? []) {
        if (item["@removed"] !== undefined) found.delete(item.id);
        else found.set(item.id, { receivedAt: item.receivedDateTime ?? "", isRead: item.isRead === true });
      }
      if (page["@odata.deltaLink"]) deltaLink = page["@odata.deltaLink"];
      else if (page["@odata.nextLink"]) url = page["@odata.nextLink"];
      else throw new MailSourceError("protocol_error", "Microsoft Graph ended a delta query without a next or delta link.");
    }
    for (const [id, m] of found) if (m.receivedAt) this.#received.set(id, m.receivedAt);
    // the delta link covers the whole round
    return roundListing(found, unseenSince, cursor, roundCursor("delta", deltaLink, unseenSince));
  }

  /**
   * One listing of the Inbox over the keys' time range with each message's size, rather than a request
   * per message: under throttling every request counts. Keys not listed are gone.
   */
  async sizes(keys: string[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const times = keys.map((k) => this.#received.get(k)).filter((t): t is string => t !== undefined).sort();
    const wanted = new Set(keys);
    if (times.length > 0) {
      const range = `receivedDateTime ge ${times[0]} and receivedDateTime le ${times.at(-1)}`;
      let url: string | undefined = this.client.userPath(
        `/mailFolders/inbox/messages?$select=id&$top=1000&$filter=${range}&$expand=singleValueExtendedProperties($filter=id eq '${sizeProperty}')`,
      );
      while (url !== undefined) {
        let page: SizedPage;
        try {
          page = await this.client.json<SizedPage>("GET", url);
        } catch (err) {
          throw mapped(err, this.settings.login);
        }
        // no size (a property Graph did not return): 0, so the message is fetched whole
        for (const m of page.value ?? []) if (wanted.has(m.id)) sizes.set(m.id, sizeOf(m.singleValueExtendedProperties) ?? 0);
        url = page["@odata.nextLink"];
      }
    }
    // keys listed without a time (none in practice): one request each
    const untimed = keys.filter((k) => !this.#received.has(k));
    await Promise.all(
      untimed.map(async (key) => {
        const path = this.client.userPath(`/messages/${encodeURIComponent(key)}?$select=id&$expand=singleValueExtendedProperties($filter=id eq '${sizeProperty}')`);
        try {
          const message = await this.client.json<{ singleValueExtendedProperties?: { id: string; value: string }[] }>("GET", path);
          sizes.set(key, sizeOf(message.singleValueExtendedProperties) ?? 0);
        } catch (err) {
          if (isGone(err)) return;
          throw mapped(err, this.settings.login);
        }
      }),
    );
    return sizes;
  }

  async fetch(requests: FetchRequest[]): Promise<SourceMessage[]> {
    const messages: SourceMessage[] = [];
    const refused: { key: string; said: string }[] = [];
    await Promise.all(
      requests.map(async ({ key, headersOnly }) => {
        try {
          const message = headersOnly ? await this.headerBlock(key) : await this.mime(key);
          messages.push(message);
        } catch (err) {
          if (isGone(err)) return;
          // Graph answered, and the answer is no for this message alone (a corrupt item): the sync sets it aside after a retry
          if (err instanceof GraphRequestError && err.status !== 404) {
            refused.push({ key, said: err.graph ? `${err.graph.code}: ${err.graph.message}` : `HTTP ${err.status}` });
            return;
          }
          throw mapped(err, this.settings.login);
        }
      }),
    );
    if (refused.length > 0) {
      throw new MessageRefusedError(
        refused.map((r) => r.key),
        `Microsoft Graph would not hand over ${refused.length} message(s) of ${this.settings.login}`,
        refused[0]!.said,
      );
    }
    const order = new Map(requests.map((r, i) => [r.key, i]));
    return messages.sort((a, b) => (order.get(a.sourceKey) ?? 0) - (order.get(b.sourceKey) ?? 0));
  }

  async acknowledge(keys: string[]): Promise<AckOutcome> {
    const done: string[] = [];
    const refused: string[] = [];
    let serverText = "";
    await Promise.all(
      keys.map(async (key) => {
        try {
          await this.client.json("PATCH", this.client.userPath(`/messages/${encodeURIComponent(key)}`), { isRead: true });
          done.push(key);
        } catch (err) {
          if (isGone(err)) done.push(key);
          else if (err instanceof MailSourceError && err.code === "consent_required") {
            refused.push(key);
            serverText = err.serverText ?? err.message;
          } else throw mapped(err, this.settings.login);
        }
      }),
    );
    return { done, pending: [], refused: refused.length > 0 ? { keys: refused, serverText } : null };
  }

  finish(): Promise<string[]> {
    return Promise.resolve([]);
  }

  private async mime(key: string): Promise<SourceMessage> {
    const answer = await this.client.request("GET", this.client.userPath(`/messages/${encodeURIComponent(key)}/$value`), { headers: { accept: "*/*" } });
    return { sourceKey: key, raw: answer.body, size: answer.body.length, truncated: false, receivedAt: null };
  }

  /** Over Max size: the header block alone, rebuilt from internetMessageHeaders (Graph has no partial $value). */
  private async headerBlock(key: string): Promise<SourceMessage> {
    const path = this.client.userPath(
      `/messages/${encodeURIComponent(key)}?$select=internetMessageHeaders,receivedDateTime&$expand=singleValueExtendedProperties($filter=id eq '${sizeProperty}')`,
    );
    const m = await this.client.json<{
      internetMessageHeaders?: { name: string; value: string }[];
      receivedDateTime?: string;
      singleValueExtendedProperties?: { id: string; value: string }[];
    }>("GET", path);
    const lines = (m.internetMessageHeaders ?? []).map((h) => `${h.name}: ${h.value}\r\n`).join("");
    const raw = Buffer.from(`${lines}\r\n`, "utf8");
    const size = sizeOf(m.singleValueExtendedProperties) ?? raw.length;
    return { sourceKey: key, raw, size, truncated: true, receivedAt: m.receivedDateTime ? new Date(m.receivedDateTime) : null };
  }
}

/** The size property however Graph spells its id ("Integer 0xe08" comes back for "Integer 0x0E08"). */
function sizeOf(properties: { id: string; value: string }[] | undefined): number | undefined {
  const found = properties?.find((p) => /^integer\s+0x0*e08$/i.test(p.id.trim()));
  const n = found === undefined ? NaN : Number(found.value);
  return Number.isFinite(n) ? n : undefined;
}

function isGone(err: unknown): boolean {
  return err instanceof GraphRequestError && err.status === 404 && err.graph?.code !== "ErrorInvalidUser";
}

function mapped(err: unknown, login: string): Error {
  if (!(err instanceof GraphRequestError)) return err instanceof Error ? err : new Error(String(err));
  const said = err.graph ? `${err.graph.code}: ${err.graph.message}` : `HTTP ${err.status}`;
  if (err.status === 404) return new MailSourceError("folder_missing", `Microsoft 365 has no mailbox ${login} (or its Inbox) that this app may read.`, said);
  return new MailSourceError("protocol_error", err.message, said);
}
