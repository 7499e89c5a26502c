/**
 * What must never be found in sanitized mail HTML, checked tag by tag and attribute by attribute.
 * Text content is escaped by the sanitizer, so a `<` in the output always starts a real tag.
 */

const forbiddenElements = /^(?:script|style|i?frame|frameset|object|embed|applet|form|input|button|select|textarea|base|meta|link|svg|math|template|noscript)$/i;
const forbiddenAttributes = /^(?:srcdoc|http-equiv|formaction|action|background|srcset|xlink:href|poster|id|class)$/i;
const urlAttributes = /^(?:href|src|data-remote-src|cite|data)$/i;
const scriptScheme = /^(?:javascript|vbscript|livescript|data)\s*:/i;
const dangerousCss = /expression\s*\(|url\s*\(|behavior|-moz-binding|@import|\\|\/\*/i;

const tagPattern = /<([a-zA-Z][^\s/>]*)([^>]*)>/g;
const attributePattern = /([^\s"'=<>`/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

function decodeAttribute(value: string): string {
  return value
    .replace(/&#x([0-9a-f]+);?/gi, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);?/g, (_m, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&")
    // browsers ignore these inside a URL scheme
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0020]/g, "");
}

/** The forbidden constructs the HTML contains, named; empty when it is safe. */
export function forbiddenHtml(html: string | null): string[] {
  if (html === null) return [];
  const found = new Set<string>();
  for (const [, tag, attributes] of html.matchAll(tagPattern)) {
    const name = tag!.toLowerCase();
    if (forbiddenElements.test(name)) found.add(`<${name}> element`);
    for (const [, attribute, dq, sq, bare] of attributes!.matchAll(attributePattern)) {
      const key = attribute!.toLowerCase();
      const value = decodeAttribute(dq ?? sq ?? bare ?? "");
      if (key.startsWith("on")) found.add(`event handler ${key}`);
      if (forbiddenAttributes.test(key)) found.add(`attribute ${key}`);
      if (urlAttributes.test(key) && scriptScheme.test(value)) found.add(`script or data URL in ${key}`);
      if (key === "style" && dangerousCss.test(value)) found.add("dangerous CSS");
      if (name === "img" && key === "src" && !/^cid:/i.test(value)) found.add("image loading a remote or inline source");
      if (name === "a" && key === "href" && !/^(?:https?|mailto):/i.test(value)) found.add("link other than http, https or mailto");
      if (key === "data-remote-src" && !/^https?:\/\//i.test(value)) found.add("data-remote-src that is not http(s)");
    }
  }
  return [...found];
}
