/**
 * Decoded mail text is attacker-controlled: an encoded word can carry CR/LF (header injection when the
 * value is later written into a reply), NUL (PostgreSQL refuses it in text columns), and bidi
 * overrides that make a name or file name read differently from what it is.
 */

// C0 controls, DEL, C1 controls, line/paragraph separators
// eslint-disable-next-line no-control-regex
const lineBreaking = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// explicit embeddings, overrides and isolates; LRM/RLM stay, right-to-left text needs them
const bidiControls = /[\u202a-\u202e\u2066-\u2069]/g;
// everything above except tab and line feed
// eslint-disable-next-line no-control-regex
const textControls = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/** A single line for display: controls become spaces, whitespace runs collapse, ends trimmed, bounded. */
export function cleanLine(value: string, maxLength = 998): string {
  const line = value.replace(lineBreaking, " ").replace(bidiControls, "").replace(/\s+/g, " ").trim();
  return truncate(line, maxLength);
}

/** Body text: line breaks become LF, other controls except tab go, nothing else changes. */
export function cleanText(value: string): string {
  return value.replace(/\r\n?/g, "\n").replace(textControls, "").replace(/[\u2028\u2029]/g, "\n");
}

/** Cuts at a code point boundary, so no lone surrogate is left at the end. */
export function truncate(value: string, maxLength: number): string {
  if (value.length <= maxLength) return value;
  const code = value.charCodeAt(maxLength - 1);
  const cut = code >= 0xd800 && code <= 0xdbff ? maxLength - 1 : maxLength;
  return value.slice(0, cut);
}
