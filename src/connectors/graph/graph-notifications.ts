import { randomBytes, timingSafeEqual } from "node:crypto";

/** The subscription a Graph mailbox holds, as Mailroom remembers it. */
export interface HeldSubscription {
  id: string;
  /** sent by Graph with every notification; a notification without it is not Graph's */
  clientState: string;
  expiresAt: Date;
  /** Graph asked for a reauthorization: renew it on the next sync */
  renew: boolean;
  /** Graph removed it (or it could not be renewed): create a new one on the next sync */
  recreate: boolean;
}

export interface NotificationOutcome {
  /** mailboxes woken */
  woke: number;
  /** items with an unknown subscription or the wrong clientState: ignored */
  ignored: number;
}

export type NotificationKind = "changes" | "lifecycle";

/** A notification item passed to the other nodes: what its subscription's holder checks and acts on. */
export interface ForwardedItem {
  subscriptionId: string;
  clientState: string;
  lifecycleEvent?: string;
}

interface NotificationItem {
  subscriptionId?: unknown;
  clientState?: unknown;
  lifecycleEvent?: unknown;
}

/**
 * Where Graph's change and lifecycle notifications meet the mailboxes' runners. The HTTP side hands
 * every notification here and answers at once (Graph wants 2xx within 3 s); the work is the runner's,
 * woken to run a delta query. Subscriptions are kept per mailbox, not per connection, so a runner that
 * reconnects after an error keeps its subscription.
 */
export class GraphNotificationHub {
  readonly #byMailbox = new Map<string, HeldSubscription>();
  readonly #mailboxOf = new Map<string, string>();
  /** mailboxes whose subscription could not be made: their warning is given once, not at every sync */
  readonly #failing = new Set<string>();
  #wake: (mailboxId: string) => void = () => undefined;
  #forward: ((kind: NotificationKind, items: ForwardedItem[]) => void) | null = null;

  constructor(
    /** where Graph posts change notifications and lifecycle notifications; null: Graph mailboxes poll */
    readonly notificationUrl: string | null,
    readonly lifecycleUrl: string | null,
  ) {}

  /**
   * Several nodes: notifications for subscriptions this node does not hold (another node runs the
   * mailbox) go to the other nodes, whose hubs take them with `changes`/`lifecycle` and `forwarded`.
   */
  setForward(forward: (kind: NotificationKind, items: ForwardedItem[]) => void): void {
    this.#forward = forward;
  }

  /** Set once the runners exist: how a notification wakes the mailbox's runner. */
  setWake(wake: (mailboxId: string) => void): void {
    this.#wake = wake;
  }

  static newClientState(): string {
    return randomBytes(24).toString("base64url");
  }

  held(mailboxId: string): HeldSubscription | undefined {
    return this.#byMailbox.get(mailboxId);
  }

  hold(mailboxId: string, subscription: HeldSubscription): void {
    this.release(mailboxId);
    this.#failing.delete(mailboxId);
    this.#byMailbox.set(mailboxId, subscription);
    this.#mailboxOf.set(subscription.id, mailboxId);
  }

  /** Notes that the mailbox has no subscription; true the first time since it last had one (the time to warn). */
  failed(mailboxId: string): boolean {
    if (this.#failing.has(mailboxId)) return false;
    this.#failing.add(mailboxId);
    return true;
  }

  release(mailboxId: string): void {
    const old = this.#byMailbox.get(mailboxId);
    if (old) this.#mailboxOf.delete(old.id);
    this.#byMailbox.delete(mailboxId);
  }

  /** Change notifications ({"value": [...]}): wakes each mailbox named by a known subscription with its clientState. */
  changes(body: unknown, forwarded = false): NotificationOutcome {
    return this.#each(body, forwarded ? null : "changes", (mailboxId) => mailboxId);
  }

  /**
   * Lifecycle notifications (https://learn.microsoft.com/graph/change-notifications-lifecycle-events):
   * reauthorizationRequired → renew; subscriptionRemoved → create anew; missed → catch up with delta.
   * Each wakes the mailbox, whose next sync does it.
   */
  lifecycle(body: unknown, forwarded = false): NotificationOutcome {
    return this.#each(body, forwarded ? null : "lifecycle", (mailboxId, item) => {
      const held = this.#byMailbox.get(mailboxId);
      if (held && item.lifecycleEvent === "reauthorizationRequired") held.renew = true;
      if (held && item.lifecycleEvent === "subscriptionRemoved") held.recreate = true;
      return mailboxId;
    });
  }

  #each(body: unknown, forwardAs: NotificationKind | null, onItem: (mailboxId: string, item: NotificationItem) => string): NotificationOutcome {
    const items = body && typeof body === "object" && Array.isArray((body as { value?: unknown }).value) ? ((body as { value: unknown[] }).value as NotificationItem[]) : [];
    const woken = new Set<string>();
    const elsewhere: ForwardedItem[] = [];
    let ignored = 0;
    for (const item of items) {
      const mailboxId = typeof item.subscriptionId === "string" ? this.#mailboxOf.get(item.subscriptionId) : undefined;
      if (mailboxId === undefined && forwardAs && this.#forward && typeof item.subscriptionId === "string" && typeof item.clientState === "string") {
        // checked by the node that holds the subscription, against its clientState
        elsewhere.push({ subscriptionId: item.subscriptionId, clientState: item.clientState, ...(typeof item.lifecycleEvent === "string" ? { lifecycleEvent: item.lifecycleEvent } : {}) });
        continue;
      }
      const held = mailboxId === undefined ? undefined : this.#byMailbox.get(mailboxId);
      if (mailboxId === undefined || !held || typeof item.clientState !== "string" || !sameText(item.clientState, held.clientState)) {
        ignored++;
        continue;
      }
      woken.add(onItem(mailboxId, item));
    }
    for (const id of woken) this.#wake(id);
    if (elsewhere.length && forwardAs) this.#forward?.(forwardAs, elsewhere);
    return { woke: woken.size, ignored };
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
