import sanitizeHtml from "sanitize-html";

/**
 * Mail HTML is hostile (design invariant 5). This keeps the formatting agents need and nothing that
 * runs, navigates, submits, loads remote content unasked, or restyles the page around the message.
 * Remote images are kept but disarmed: their URL moves to `data-remote-src`, which the UI turns back
 * into `src` only when the agent allows remote content. `cid:` images stay for the API to rewrite.
 */

const formattingTags = [
  "p", "br", "b", "i", "u", "s", "strike", "strong", "em", "span", "div", "font", "small", "big", "sub", "sup",
  "center", "tt", "abbr", "cite", "q", "del", "ins", "mark", "address",
  "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col",
  "ul", "ol", "li", "dl", "dt", "dd",
  "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "hr",
  "a", "img",
];

/** Dropped together with everything inside them; other disallowed tags lose the tag but keep their text. */
const droppedWithContent = [
  "script", "style", "textarea", "option", "select", "xmp", "noscript", "title", "template",
  "iframe", "frame", "frameset", "noframes", "object", "embed", "applet", "svg", "math",
  "audio", "video", "canvas",
];

const cellAttributes = ["colspan", "rowspan", "nowrap", "scope"];
const sharedAttributes = ["style", "align", "valign", "dir", "lang", "title", "width", "height", "bgcolor"];

const allowedAttributes: sanitizeHtml.IOptions["allowedAttributes"] = {
  "*": sharedAttributes,
  a: ["href", "rel", "target"],
  img: ["src", "alt", "border", "data-remote-src"],
  table: ["border", "cellpadding", "cellspacing"],
  td: cellAttributes,
  th: cellAttributes,
  font: ["color", "face", "size"],
  ol: ["start", "type"],
  ul: ["type"],
  li: ["value"],
  col: ["span"],
  colgroup: ["span"],
};

const cssProperties = new Set([
  "color", "background-color", "font", "font-family", "font-size", "font-weight", "font-style", "font-variant",
  "text-align", "text-decoration", "text-indent", "text-transform", "line-height", "letter-spacing", "word-spacing",
  "white-space", "vertical-align", "direction",
  "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
  "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
  "border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
  "border-width", "border-collapse", "border-spacing", "border-radius",
  "width", "height", "max-width", "min-width", "max-height", "min-height",
  "list-style-type", "table-layout", "display",
]);

/**
 * Words, numbers, units, colours, quoted font names, and rgb()/hsl() — nothing else. Without `(`, `\`,
 * `/`, `:` or `@` there is no url(), expression(), escape, comment or at-rule to smuggle in.
 */
const safeCssValue = /^(?:[a-z0-9#.,%\s'"+-]|(?:rgba?|hsla?)\([0-9\s.,%]*\))+$/i;

function filterStyle(style: string): string {
  const kept: string[] = [];
  for (const declaration of style.split(";")) {
    const colon = declaration.indexOf(":");
    if (colon === -1) continue;
    const property = declaration.slice(0, colon).trim().toLowerCase();
    const value = declaration.slice(colon + 1).trim().replace(/\s*!\s*important$/i, "");
    if (!cssProperties.has(property) || !value || !safeCssValue.test(value)) continue;
    // an unbalanced quote would swallow the declarations after it
    if ((value.split('"').length - 1) % 2 !== 0 || (value.split("'").length - 1) % 2 !== 0) continue;
    kept.push(`${property}:${value}`);
  }
  return kept.join(";");
}

const remoteUrl = /^https?:\/\/[^\s"'<>\\]+$/i;

/** Presentational attributes are plain values; anything else in them is not formatting. */
const attributeValues: Record<string, RegExp> = {
  width: /^\d+(?:\.\d+)?(?:%|px)?$/i,
  height: /^\d+(?:\.\d+)?(?:%|px)?$/i,
  border: /^\d+$/,
  cellpadding: /^\d+$/,
  cellspacing: /^\d+$/,
  colspan: /^\d+$/,
  rowspan: /^\d+$/,
  span: /^\d+$/,
  start: /^-?\d+$/,
  value: /^-?\d+$/,
  size: /^[+-]?\d+$/,
  align: /^(?:left|right|center|justify|top|middle|bottom)$/i,
  valign: /^(?:top|middle|bottom|baseline)$/i,
  dir: /^(?:ltr|rtl|auto)$/i,
  bgcolor: /^#?[a-z0-9]+$/i,
  color: /^#?[a-z0-9]+$/i,
  face: /^[\w\s,'"-]+$/,
  type: /^(?:[1aAiI]|disc|circle|square)$/,
  scope: /^(?:row|col|rowgroup|colgroup)$/i,
};

function checkAttributes(attribs: sanitizeHtml.Attributes): sanitizeHtml.Attributes {
  const next: sanitizeHtml.Attributes = { ...attribs };
  // the tag's few attributes, not every pattern: this runs for every tag of every message
  for (const name of Object.keys(next)) {
    const pattern = Object.hasOwn(attributeValues, name) ? attributeValues[name] : undefined;
    if (pattern && !pattern.test(next[name]!.trim())) delete next[name];
  }
  if (next.style !== undefined) {
    const style = filterStyle(next.style);
    if (style) next.style = style;
    else delete next.style;
  }
  return next;
}

const options: sanitizeHtml.IOptions = {
  allowedTags: formattingTags,
  allowedAttributes,
  nonTextTags: droppedWithContent,
  disallowedTagsMode: "discard",
  allowedSchemes: ["http", "https", "mailto"],
  // by the time schemes are checked, an img src can only be cid: (see transformTags)
  allowedSchemesByTag: { img: ["cid"] },
  allowProtocolRelative: false,
  // the style attribute is filtered by filterStyle above, which is stricter and cheaper than a CSS parser
  parseStyleAttributes: false,
  // an image whose source was not allowed shows nothing and only clutters the markup
  exclusiveFilter: (frame) => frame.tag === "img" && !frame.attribs.src && !frame.attribs["data-remote-src"],
  transformTags: {
    a(tagName, attribs) {
      const href = (attribs.href ?? "").trim();
      const next: sanitizeHtml.Attributes = { ...attribs, rel: "noopener noreferrer", target: "_blank" };
      if (/^(?:https?|mailto):/i.test(href)) next.href = href;
      else delete next.href;
      return { tagName, attribs: next };
    },
    img(tagName, attribs) {
      const src = (attribs.src ?? "").trim();
      const next: sanitizeHtml.Attributes = { ...attribs };
      delete next.src;
      delete next["data-remote-src"];
      if (/^cid:/i.test(src)) next.src = src;
      else if (remoteUrl.test(src)) next["data-remote-src"] = src;
      return { tagName, attribs: next };
    },
    "*": (tagName, attribs) => ({ tagName, attribs: checkAttributes(attribs) }),
  },
};

/** Sanitized HTML, safe to render in the sandboxed message frame. */
export function sanitizeMailHtml(html: string): string {
  // PostgreSQL refuses NUL in text
  return sanitizeHtml(html, options).replaceAll("\u0000", "");
}
