import { asBuffer } from "../shared/bytes.js";

/**
 * Text that is not valid UTF-8 is, in practice, almost always Windows-1252 (or its subset
 * ISO-8859-1). Node's TextDecoder("windows-1252") decodes 0x80–0x9F as C1 controls like Latin-1
 * does, so the 32 characters where the two differ are mapped here.
 */
const windows1252High =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeWindows1252(bytes: Uint8Array): string {
  return asBuffer(bytes)
    .toString("latin1")
    .replace(/[\u0080-\u009f]/g, (c) => windows1252High[c.charCodeAt(0) - 0x80]!);
}

/** UTF-8 when the bytes are valid UTF-8, else Windows-1252; `legacy` says which. */
export function decodeUtf8OrWindows1252(bytes: Uint8Array): { text: string; legacy: boolean } {
  try {
    return { text: utf8.decode(bytes), legacy: false };
  } catch {
    return { text: decodeWindows1252(bytes), legacy: true };
  }
}
