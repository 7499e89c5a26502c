import sanitizeHtml from "sanitize-html";

/**
 * Readable text for an HTML-only message (search, previews, the agent's quote). sanitize-html does the
 * HTML parsing and entity decoding; what it cannot know is where lines break, so private-use
 * characters mark the breaks before parsing and become line feeds afterwards.
 */

const hardBreak = "\ue000";
const blockBreak = "\ue001";
const paragraphBreak = "\ue002";
const anyMark = /[\ue000-\ue002]/g;

const paragraphTag = /<\/?(?:p|h[1-6]|blockquote|table|ul|ol|dl|pre|hr|address|center|section|article|header|footer|form|fieldset)\b[^>]*>/gi;
const blockTag = /<\/?(?:div|tr|li|dt|dd|caption)\b[^>]*>/gi;
const brTag = /<br\b[^>]*>/gi;
const cellEnd = /<\/t[dh]\s*>/gi;
const preBlock = /(<pre\b[^>]*>)([\s\S]*?)(<\/pre\s*>)/gi;
/** spaces and marks around at least one mark */
const breakRun = / *[\ue000-\ue002][ \ue000-\ue002]*/g;

const textOnly: sanitizeHtml.IOptions = {
  allowedTags: [],
  allowedAttributes: {},
  nonTextTags: ["script", "style", "textarea", "option", "select", "xmp", "noscript", "title", "template", "svg", "math", "iframe", "object"],
};

/** Consecutive <br> count, a paragraph makes a blank line, block boundaries make one line break. */
function lineBreaks(run: string): string {
  const hard = run.split(hardBreak).length - 1;
  const lines = run.includes(paragraphBreak) ? 2 : 1;
  return "\n".repeat(Math.min(2, Math.max(hard, lines)));
}

export function htmlToText(html: string): string {
  const marked = html
    .replace(anyMark, "")
    // inside <pre> the source line breaks are the text's line breaks
    .replace(preBlock, (_all, open: string, inner: string, close: string) => `${open}${inner.replace(/\r?\n/g, hardBreak)}${close}`)
    .replace(paragraphTag, (tag) => `${tag}${paragraphBreak}`)
    .replace(blockTag, (tag) => `${tag}${blockBreak}`)
    .replace(brTag, (tag) => `${tag}${hardBreak}`)
    .replace(cellEnd, (tag) => `${tag} `);
  return sanitizeHtml(marked, textOnly)
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .replace(breakRun, lineBreaks)
    .trim();
}
