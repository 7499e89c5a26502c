/**
 * What must never be found in sanitized mail HTML. Text content is escaped by the sanitizer, so
 * a `<` in the output always starts a real tag and the patterns only look inside tags.
 */
const forbidden: Array<[string, RegExp]> = [
  ["script element", /<script/i],
  ["style element", /<style/i],
  ["frame, iframe, object or embed", /<(?:i?frame|frameset|object|embed|applet)\b/i],
  ["form control", /<(?:form|input|button|select|textarea)\b/i],
  ["base, meta or link", /<(?:base|meta|link)\b/i],
  ["svg or math", /<(?:svg|math)\b/i],
  ["event handler attribute", /<[^>]*\son[a-z]+\s*=/i],
  ["script URL", /<[^>]*(?:javascript|vbscript|livescript)\s*:/i],
  ["data: URL", /<[^>]*=\s*"\s*data:/i],
  ["CSS expression()", /<[^>]*expression\s*\(/i],
  ["CSS url()", /<[^>]*url\s*\(/i],
  ["CSS behavior or -moz-binding", /<[^>]*(?:behavior|-moz-binding)/i],
  ["CSS @import", /<[^>]*@import/i],
  ["srcdoc attribute", /<[^>]*\ssrcdoc\s*=/i],
  ["http-equiv attribute", /<[^>]*http-equiv/i],
  ["image loading a remote or inline-data source", /<img[^>]*\ssrc\s*=\s*"(?!cid:)/i],
  ["link to something other than http, https or mailto", /<a[^>]*\shref\s*=\s*"(?!https?:|mailto:)/i],
];

/** The names of the forbidden constructs the HTML contains; empty when it is safe. */
export function forbiddenHtml(html: string | null): string[] {
  if (html === null) return [];
  return forbidden.filter(([, pattern]) => pattern.test(html)).map(([name]) => name);
}
