import { randomUUID } from "node:crypto";
import type { Seed, SeedClient, SeedUser } from "./seed.js";

export interface Client extends Required<Omit<SeedClient, "secretExpiresAt">> {
  secretExpiresAt: Date | null;
}

export interface User {
  id: string;
  mail: string;
  password: string;
  displayName: string;
  signIn: "ok" | "mfa" | "locked";
}

export interface Tenant {
  id: string;
  domain: string;
  clients: Map<string, Client>;
  /** by id and by lower-case mail */
  users: Map<string, User>;
}

/** One message in a user's mailbox, as Graph knows it. */
export interface StoredMessage {
  id: string;
  userId: string;
  /** Graph's well-known folder name: inbox, sentitems, drafts, deleteditems */
  folder: string;
  mime: Buffer;
  subject: string;
  from: string;
  internetMessageId: string;
  receivedDateTime: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  isRead: boolean;
  changeKey: string;
  /** position in the change log; every create and update moves it to the end */
  changeSeq: number;
  /** the change log position of its creation: delta tells "created" from "updated" by it */
  createdSeq: number;
  /**
   * the change log position of its last change to anything but the read flag (its creation, while only isRead can
   * change): EWS SyncFolderItems reports a ReadFlagChange instead of an Update when nothing else changed since a sync state
   */
  contentSeq: number;
  deleted: boolean;
}

export interface Subscription {
  id: string;
  tenantId: string;
  appId: string;
  resource: string;
  /** the user and folder the resource names */
  userId: string;
  folder: string;
  changeType: string[];
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: Date;
  /** the signed-in user (delegated) or the app's service principal (application) that created it */
  creatorId: string;
  /** when the access token last presented for it (create, renew, reauthorize) expires: Graph asks for reauthorization before then */
  authorizedUntil: Date;
  /** when the last reauthorizationRequired lifecycle notification went out; null: none since the last authorization */
  reauthorizationSentAt: Date | null;
}

/** A fault switch: answer `status` instead of doing the work, for a share or a number of matching requests. */
export interface FaultRule {
  /** which requests: "graph" (/v1.0), "token" (Entra), "ews" (/EWS/Exchange.asmx), or "all" */
  match: "graph" | "token" | "ews" | "all";
  status: 429 | 500 | 503 | 504;
  /** Retry-After seconds; null sends none */
  retryAfterSeconds: number | null;
  /** the share of matching requests that fail, 0–1, spread evenly (0.5: every second one) */
  ratio: number;
  /** how many more times it fires; null: until cleared */
  remaining: number | null;
  accumulated: number;
}

/**
 * An EWS per-message error switch: the response messages of `operation` carry `code` (ResponseClass Error) instead of
 * doing the work, so that a client's handling of Exchange's documented per-message errors can be tested.
 */
export interface EwsErrorRule {
  /** the EWS operation's element name: GetItem, UpdateItem, SyncFolderItems, ... */
  operation: string;
  /** an EWS ResponseCode: ErrorServerBusy, ErrorAccessDenied, ... */
  code: string;
  /** ErrorServerBusy's BackOffMilliseconds; null: 2000 */
  backOffMs: number | null;
  /** how many more requests it answers; null: until cleared */
  remaining: number | null;
}

export interface Faults {
  rules: FaultRule[];
  ewsErrors: EwsErrorRule[];
  /** every matching request waits this long before it is answered */
  delay: { match: FaultRule["match"]; ms: number } | null;
  /** the share (0–1) of change notifications that are not sent; lifecycle notifications are always sent */
  dropNotifications: number;
  dropAccumulated: number;
  /** requests answered so far, by kind: tests assert on them */
  counts: { graph: number; token: number; ews: number; throttled: number; notificationsSent: number; notificationsDropped: number };
}

/** One message accepted for sending (Graph sendMail, EWS CreateItem), as GET /_emulator/sent lists it. */
export interface SentRecord {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  /** the MIME as submitted (after Exchange's stamping of Date, From, Message-ID), base64 */
  mime: string;
  at: string;
  /** which API sent it */
  via: "graph" | "ews";
}

/** Everything the emulator knows; one instance per running emulator. */
export class EmulatorState {
  readonly tenants = new Map<string, Tenant>();
  readonly messages = new Map<string, StoredMessage>();
  readonly subscriptions = new Map<string, Subscription>();
  readonly faults: Faults = {
    rules: [],
    ewsErrors: [],
    delay: null,
    dropNotifications: 0,
    dropAccumulated: 0,
    counts: { graph: 0, token: 0, ews: 0, throttled: 0, notificationsSent: 0, notificationsDropped: 0 },
  };
  /** every message sent through the emulator, oldest first: GET /_emulator/sent */
  readonly sent: SentRecord[] = [];
  /** added to the real time: POST /_emulator/clock moves the emulator into the future (expiry tests) */
  clockOffsetMs = 0;
  /** $value of a message of this user whose bytes hold the marker answers 500: a message Exchange cannot hand over */
  refusedMime: { userId: string; marker: string }[] = [];
  /** how long the access tokens Entra issues from now on live; POST /_emulator/token-lifetime sets it */
  tokenLifetimeSeconds = 3600;
  #changeSeq = 0;

  constructor(seed: Seed) {
    for (const t of seed.tenants) {
      const tenant: Tenant = { id: t.id, domain: t.domain ?? "contoso.test", clients: new Map(), users: new Map() };
      for (const c of t.clients) tenant.clients.set(c.clientId, toClient(c));
      for (const u of t.users) this.addUser(tenant, u);
      this.tenants.set(tenant.id, tenant);
    }
  }

  now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  addUser(tenant: Tenant, u: SeedUser): User {
    const user: User = {
      id: u.id ?? randomUUID(),
      mail: u.mail,
      password: u.password ?? `${u.mail}-password`,
      displayName: u.displayName ?? u.mail.split("@")[0] ?? u.mail,
      signIn: u.signIn ?? "ok",
    };
    tenant.users.set(user.id, user);
    tenant.users.set(user.mail.toLowerCase(), user);
    return user;
  }

  /** A tenant by id, or by one of its domains (Entra accepts both in the authority). */
  tenant(idOrDomain: string): Tenant | undefined {
    const key = idOrDomain.toLowerCase();
    for (const t of this.tenants.values()) if (t.id.toLowerCase() === key || t.domain.toLowerCase() === key) return t;
    return undefined;
  }

  /** The user a mail address or id names, in any tenant. */
  findUser(idOrMail: string): { tenant: Tenant; user: User } | undefined {
    const key = idOrMail.toLowerCase();
    for (const tenant of this.tenants.values()) {
      const user = tenant.users.get(key) ?? tenant.users.get(idOrMail);
      if (user) return { tenant, user };
    }
    return undefined;
  }

  nextChangeSeq(): number {
    this.#changeSeq += 1;
    return this.#changeSeq;
  }

  get changeSeq(): number {
    return this.#changeSeq;
  }

  /** The messages of one folder of one user, oldest first, deleted ones included (delta reports them). */
  folderMessages(userId: string, folder: string): StoredMessage[] {
    const list: StoredMessage[] = [];
    for (const m of this.messages.values()) if (m.userId === userId && m.folder === folder) list.push(m);
    return list.sort((a, b) => a.receivedDateTime.localeCompare(b.receivedDateTime) || a.changeSeq - b.changeSeq);
  }
}

function toClient(c: SeedClient): Client {
  return {
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    secretExpiresAt: c.secretExpiresAt ? new Date(c.secretExpiresAt) : null,
    roles: c.roles ?? [],
    scopes: c.scopes ?? [],
    consented: c.consented ?? true,
  };
}
