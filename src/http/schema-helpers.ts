import { z } from "zod";

/** A request body that refuses fields it does not know, naming them, so that a typo is not silently ignored. */
export function strictBody<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? `Unknown field(s): ${iss.keys.join(", ")}` : undefined),
  });
}

export const idParams = z.object({ id: z.string() });

/**
 * Characters a name shown to people must not hold: C0 and C1 controls (CR, LF, BEL, ESC…), DEL, and the
 * bidi controls that make text read differently from how it is stored (U+061C, U+200E/F, U+202A-E,
 * U+2066-9: "‮txt.exe" shows as "exe.txt").
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const unsafeDisplayCharacters = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** CR, LF and NUL: in a field sent to a line-based mail protocol (POP3, IMAP, SMTP) they start a new command. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const protocolLineBreaks = /[\r\n\u0000]/;

/**
 * Display text (names, display names, subjects): trimmed, at most `max` characters, no control or bidi
 * characters. `min` 0 allows an empty one.
 */
export function displayText(label: string, opts: { max: number; min?: number; required?: string; tooLong?: string }) {
  const min = opts.min ?? 1;
  return z
    .string({ error: opts.required ?? `${label} must be text` })
    .trim()
    .min(min, opts.required ?? `${label} must not be empty`)
    .max(opts.max, opts.tooLong ?? `${label} may have at most ${opts.max} characters`)
    .refine((v) => !unsafeDisplayCharacters.test(v), `${label} may not contain control characters (such as line breaks) or text-direction overrides`);
}
