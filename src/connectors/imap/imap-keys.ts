/** IMAP keys and cursors: UID sets for commands, and the cursor the connector stores as text. */

/** Where the connector stands in a folder: every UID up to lastUid of this UIDVALIDITY was taken. */
export interface ImapCursor {
  uidValidity: string;
  lastUid: number;
}

/** The stored cursor, or null when there is none or it cannot be read (the folder is then read as new). */
export function parseImapCursor(text: string | null): ImapCursor | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<ImapCursor>;
    if (typeof value.uidValidity === "string" && Number.isInteger(value.lastUid) && (value.lastUid ?? -1) >= 0) {
      return { uidValidity: value.uidValidity, lastUid: value.lastUid! };
    }
  } catch {
    // not ours: treated like no cursor
  }
  return null;
}

/** A compact IMAP sequence set for ascending or unordered UIDs: `1:3,5,7:9`. */
export function uidSet(uids: Iterable<number>): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(",");
}
