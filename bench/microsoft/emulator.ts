import { randomBytes, randomUUID } from "node:crypto";
import https from "node:https";
import { allApplicationPermissions } from "../../emulators/microsoft/index.js";
import { startMicrosoft, type Microsoft } from "../../test/support/microsoft.js";
import { nowMs } from "../lib/clock.js";
import type { Deliverer, Delivery } from "../lib/paced-delivery.js";
import type { Cleanup } from "../lib/processes.js";

/** What the emulator counts (GET /_emulator/stats): requests by kind, throttled ones, Graph's notifications. */
export interface EmulatorCounts {
  graph: number;
  token: number;
  ews: number;
  throttled: number;
  notificationsSent: number;
  notificationsDropped: number;
}

/** An EWS streaming subscription as GET /_emulator/ews/subscriptions lists it. */
export interface EwsSubscription {
  id: string;
  userId: string;
  eventTypes: string[];
  queued: number;
  /** a GetStreamingEvents connection holds it now */
  connected: boolean;
}

/**
 * The Microsoft emulator (Entra ID, Graph and EWS) in this process, as the tests start it, reached over
 * HTTPS with its CA through one keep-alive agent, as any client of it would.
 */
export class MicrosoftEmulator implements Deliverer {
  readonly #agent: https.Agent;
  #token: { value: string; until: number } | undefined;

  private constructor(readonly ms: Microsoft) {
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: ms.emulator.caPem });
  }

  static async start(cleanup: Cleanup): Promise<{ emulator: MicrosoftEmulator; stop: () => Promise<void> }> {
    const ms = await startMicrosoft();
    const emulator = new MicrosoftEmulator(ms);
    const stop = cleanup.add(`microsoft emulator ${ms.url}`, async () => {
      emulator.#agent.destroy();
      await ms.stop();
    });
    return { emulator, stop };
  }

  get url(): string {
    return this.ms.url;
  }

  get port(): number {
    return Number(new URL(this.ms.url).port);
  }

  /** the EWS endpoint, as an Exchange server's */
  get ewsUrl(): string {
    return `${this.ms.url}/EWS/Exchange.asmx`;
  }

  /** the PEM file of the emulator's CA: what MAILROOM_TRUSTED_CA_FILE names */
  get caFile(): string {
    return this.ms.emulator.caFile;
  }

  async request(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; sentAt: number; returnedAt: number }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const sentAt = nowMs();
      const req = https.request(
        `${this.ms.url}${route}`,
        { method, agent: this.#agent, headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), sentAt, returnedAt: nowMs() }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  async #json<T>(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.request(method, route, body, headers);
    if (res.status >= 300) throw new Error(`emulator ${method} ${route}: ${res.status} ${res.text.slice(0, 300)}`);
    return (res.text === "" ? undefined : JSON.parse(res.text)) as T;
  }

  /** A user of the emulator's tenant; `password` is what Basic and NTLM sign in with (EWS), none for Graph's client credentials. */
  async addUser(mail: string, password?: string): Promise<void> {
    await this.ms.addUser(mail, password);
  }

  /** The emulator's id of a user: what its EWS subscriptions are listed under. */
  userId(mail: string): string {
    const found = this.ms.emulator.state.findUser(mail);
    if (!found) throw new Error(`no user ${mail} at the emulator`);
    return found.user.id;
  }

  /** POST /_emulator/deliver: the message arrives as if through Exchange; Graph's notifications and EWS's events go out right after. */
  async deliver(to: string, raw: Buffer): Promise<Delivery> {
    const res = await this.request("POST", "/_emulator/deliver", { to, mimeBase64: raw.toString("base64") });
    if (res.status !== 201) throw new Error(`emulator deliver to ${to}: ${res.status} ${res.text.slice(0, 300)}`);
    return { itemId: (JSON.parse(res.text) as { id: string }).id, sentAt: res.sentAt, returnedAt: res.returnedAt };
  }

  /** An application token for Graph with every mail permission, signed by the emulator's Entra ID (no token endpoint involved). */
  graphToken(): string {
    const now = Math.floor(Date.now() / 1000);
    if (this.#token && this.#token.until > now + 600) return this.#token.value;
    const exp = now + 3 * 3600;
    const value = this.ms.emulator.signer.sign({
      aud: "https://graph.microsoft.com",
      iss: `https://login.microsoftonline.com/${this.ms.tenantId}/v2.0`,
      tid: this.ms.tenantId,
      appid: this.ms.clientId,
      azp: this.ms.clientId,
      roles: [...allApplicationPermissions],
      oid: randomUUID(),
      iat: now,
      nbf: now,
      exp,
      ver: "2.0",
      uti: randomUUID(),
    });
    this.#token = { value, until: exp };
    return value;
  }

  /** Creates a Graph change subscription on the user's Inbox (the emulator runs the validation handshake first); answers its id. */
  async subscribe(user: string, notificationUrl: string): Promise<string> {
    const created = await this.#json<{ id: string }>(
      "POST",
      "/v1.0/subscriptions",
      {
        changeType: "created",
        notificationUrl,
        resource: `users/${user}/mailFolders('Inbox')/messages`,
        expirationDateTime: new Date(Date.now() + 2 * 3600_000).toISOString(),
        clientState: randomBytes(16).toString("hex"),
      },
      { authorization: `Bearer ${this.graphToken()}` },
    );
    return created.id;
  }

  /** Graph's change subscriptions. */
  subscriptions(): Promise<{ id: string; resource: string; notificationUrl: string }[]> {
    return this.#json("GET", "/_emulator/subscriptions");
  }

  /** EWS's streaming subscriptions. */
  ewsSubscriptions(): Promise<EwsSubscription[]> {
    return this.#json("GET", "/_emulator/ews/subscriptions");
  }

  stats(): Promise<EmulatorCounts> {
    return this.#json("GET", "/_emulator/stats");
  }

  async faults(body: unknown): Promise<{ sentAt: number; returnedAt: number }> {
    const res = await this.request("POST", "/_emulator/faults", body);
    if (res.status !== 200) throw new Error(`emulator faults: ${res.status} ${res.text}`);
    return { sentAt: res.sentAt, returnedAt: res.returnedAt };
  }

  /**
   * The user's Inbox messages not yet marked read, read from the emulator's state in this process
   * (what GET /_emulator/messages answers, without sending every message's MIME over HTTPS).
   */
  unread(user: string): number {
    const { state } = this.ms.emulator;
    return state.folderMessages(this.userId(user), "inbox").filter((m) => !m.deleted && !m.isRead).length;
  }
}

/** The counts between two readings. */
export function countsBetween(before: EmulatorCounts, after: EmulatorCounts): EmulatorCounts {
  return {
    graph: after.graph - before.graph,
    token: after.token - before.token,
    ews: after.ews - before.ews,
    throttled: after.throttled - before.throttled,
    notificationsSent: after.notificationsSent - before.notificationsSent,
    notificationsDropped: after.notificationsDropped - before.notificationsDropped,
  };
}
