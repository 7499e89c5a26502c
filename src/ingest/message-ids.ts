/**
 * Message-IDs for threading, read from the raw header values. Real headers are often garbled: ids
 * folded in the middle, comments after them ("(Joe's message of Monday)"), missing brackets, or
 * hundreds of References.
 */

const maxIdLength = 998;
/** a thread's root and its most recent ancestors are what threading uses; the middle can go */
const maxReferences = 100;

/** `<id>`, an id whose closing bracket was lost at the end, or a bare local@domain without brackets */
const idToken = /<([^<>]*)>|<([^<>]*@[^<>]*)$|([^\s<>,;]+@[^\s<>,;]+)/g;

function cleanId(id: string): string | null {
  // eslint-disable-next-line no-control-regex
  const compact = id.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, "").replace(/^[<"']+|[>"']+$/g, "");
  if (!compact || compact.length > maxIdLength || /[<>]/.test(compact)) return null;
  return compact;
}

/** Every id in the header values, without angle brackets, first occurrence kept, in order. */
export function messageIds(values: readonly string[]): string[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  const add = (candidate: string) => {
    const id = cleanId(candidate);
    if (id && !seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  };
  for (const value of values) {
    // comments go first: "(Joe's message of Monday)" can hold anything, even something@like.this
    const uncommented = value.replace(/\([^()]*\)/g, " ");
    for (const match of uncommented.matchAll(idToken)) add(match[1] ?? match[2] ?? match[3] ?? "");
  }
  return ids;
}

/** The Message-ID header's id, or null when it has none. */
export function messageIdOf(values: readonly string[]): string | null {
  return messageIds(values)[0] ?? null;
}

/** References, bounded: the first (the thread's root) and the most recent ones. */
export function referenceIds(values: readonly string[]): string[] {
  const ids = messageIds(values);
  if (ids.length <= maxReferences) return ids;
  return [ids[0]!, ...ids.slice(ids.length - (maxReferences - 1))];
}
