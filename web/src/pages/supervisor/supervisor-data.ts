import { get, query } from "../../api/client";
import type { MailboxHealth } from "../../api/types";

/** The fields of an interaction the mail rate needs (the list answers whole interactions). */
interface RecentInteraction {
  id: string;
  mailboxId: string;
  messageId: string | null;
  receivedAt: string;
}

export const rateWindowMinutes = 10;
const firstPageSize = 200;
const nextPageSize = 50;
const maxPages = 5;

export interface RecentMail {
  /** interactions received in the window, newest first */
  items: { id: string; mailboxId: string; key: string; receivedAt: string }[];
  /** the first look stopped at its page limit: the figures are at least these */
  capped: boolean;
}

/**
 * The interactions received lately, newest first. The list is ordered by creation, and Mailroom
 * creates an interaction when it receives the email, so the reading stops at the first one received
 * before the window, or, after the first look, at the first one it knows already: a new email costs
 * one short request, however busy the mailboxes are.
 */
export async function loadRecentMail(since: number, known: RecentMail | undefined): Promise<RecentMail> {
  const knownIds = new Set(known?.items.map((i) => i.id));
  const fresh: RecentMail["items"] = [];
  let cursor: string | null = null;
  const keep = () => [...fresh, ...(known?.items ?? [])].filter((i) => Date.parse(i.receivedAt) >= since);
  for (let page = 0; page < maxPages; page++) {
    const limit = known ? nextPageSize : firstPageSize;
    const res: { items: RecentInteraction[]; nextCursor: string | null } = await get(`/api/v1/interactions${query({ limit, cursor })}`);
    for (const item of res.items) {
      if (knownIds.has(item.id) || Date.parse(item.receivedAt) < since) return { items: keep(), capped: known?.capped ?? false };
      fresh.push({ id: item.id, mailboxId: item.mailboxId, key: `${item.mailboxId}|${item.messageId ?? item.id}`, receivedAt: item.receivedAt });
    }
    cursor = res.nextCursor;
    if (!cursor) return { items: keep(), capped: known?.capped ?? false };
  }
  return { items: keep(), capped: true };
}

/** Reads the recent mail, after the first time only what arrived since the last read. */
export function recentMailReader(): (since: number) => Promise<RecentMail> {
  let last: RecentMail | undefined;
  return async (since) => {
    last = await loadRecentMail(since, last);
    return last;
  };
}

/** Emails a mailbox received in the window before `now`; an email routed to several queues counts once. */
export function receivedInWindow(recent: RecentMail | undefined, mailboxId: string, now: number): number {
  const since = now - rateWindowMinutes * 60_000;
  const keys = new Set((recent?.items ?? []).filter((m) => m.mailboxId === mailboxId && Date.parse(m.receivedAt) >= since).map((m) => m.key));
  return keys.size;
}

export function perMinute(count: number): string {
  const rate = count / rateWindowMinutes;
  return rate === 0 ? "0" : rate < 0.1 ? "< 0.1" : rate.toFixed(1).replace(/\.0$/, "");
}

export type Attention = "error" | "warn" | null;

/** Whether a mailbox needs someone to look at it, and how urgently. */
export function attentionOf(m: MailboxHealth): Attention {
  const expiry = m.secretExpiry;
  if (m.status.state === "error" || expiry?.state === "expired") return "error";
  if (expiry?.state === "expiring" || m.status.warnings.length > 0) return "warn";
  return null;
}

/** "4 minutes", "2 h 5 min", "3 days": how long something has waited. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return "under a minute";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

