import type { Listing, MailSourceSettings } from "./mail-source.js";

/**
 * Listings of the connectors whose server hands out one position for a whole round of changes (a
 * Graph delta link, an EWS sync state): the round's messages become candidates oldest first, and its
 * position may be stored only once every candidate is taken.
 */

export interface RoundMessage {
  /** ISO time the server received it */
  receivedAt: string;
  isRead: boolean;
}

/** The stored cursor: the position after the last complete round, and since when only unread mail counts. */
export interface RoundCursor {
  position: string | null;
  unseenSince: string | null;
}

/** Reads a stored cursor whose position is kept under `field` ("delta", "syncState"); null for none or one not understood. */
export function parseRoundCursor(cursor: string | null, field: string): RoundCursor | null {
  if (cursor === null) return null;
  try {
    const parsed = JSON.parse(cursor) as Record<string, unknown>;
    const position = parsed[field];
    return { position: typeof position === "string" ? position : null, unseenSince: typeof parsed.unseenSince === "string" ? parsed.unseenSince : null };
  } catch {
    return null;
  }
}

export function roundCursor(field: string, position: string | null, unseenSince: string | null): string {
  return JSON.stringify({ [field]: position, unseenSince });
}

/**
 * With initialImport "unseen", mail read before the first sync is not taken, then or in any later round
 * (a round also lists messages that were only changed, and a lost position starts a round from scratch).
 */
export function unseenSinceOf(stored: RoundCursor | null, settings: Pick<MailSourceSettings, "initialImport">): string | null {
  return stored?.unseenSince ?? (settings.initialImport === "unseen" ? new Date().toISOString() : null);
}

export function roundListing(found: Map<string, RoundMessage>, unseenSince: string | null, cursor: string | null, next: string): Listing {
  // as times, not text: servers write whole seconds ("…:08Z"), and "…:08Z" sorts after "…:08.123Z"
  const since = unseenSince === null ? null : timeOf(unseenSince);
  const candidates = [...found.entries()]
    .filter(([, m]) => since === null || !m.isRead || timeOf(m.receivedAt) >= since)
    .sort((a, b) => timeOf(a[1].receivedAt) - timeOf(b[1].receivedAt))
    .map(([id]) => id);
  return {
    epoch: "",
    reread: false,
    keys: candidates,
    cursorThrough: (index) => (index >= candidates.length - 1 ? next : cursor),
  };
}

/** A server's time in ms; 0 for none (a message listed without one counts as old) */
function timeOf(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
}
