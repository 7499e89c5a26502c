import { describe, expect, it } from "vitest";
import { forbiddenHtml } from "../../test/support/html-safety.js";
import { sanitizeMailHtml } from "./html-sanitize.js";

/** Each payload, and what the sanitized result must (or must not) contain. */
const vectors: Array<{ name: string; html: string; absent: RegExp[]; present?: RegExp[] }> = [
  { name: "script element", html: "<p>hi</p><script>alert(1)</script>", absent: [/script/i, /alert/], present: [/<p>hi<\/p>/] },
  { name: "mixed-case script", html: "<ScRiPt>alert(1)</sCrIpT><P>x</P>", absent: [/script/i, /alert/], present: [/<p>x<\/p>/] },
  { name: "img onerror", html: '<img src="x" onerror="alert(1)">', absent: [/onerror/i, /alert/, /<img/] },
  { name: "svg onload", html: '<svg onload="alert(1)"><circle/></svg>after', absent: [/svg/i, /onload/i], present: [/after/] },
  { name: "body onload", html: '<body onload="alert(1)"><p>x</p></body>', absent: [/onload/i] },
  { name: "event handler on allowed tag", html: '<div onmouseover="alert(1)" style="color:red">x</div>', absent: [/onmouseover/i], present: [/<div style="color:red">x<\/div>/] },
  { name: "javascript: href", html: '<a href="javascript:alert(1)">x</a>', absent: [/javascript/i, /href/] },
  { name: "entity-encoded javascript: href", html: '<a href="&#106;&#97;vascript&#58;alert(1)">x</a>', absent: [/javascript/i, /href/] },
  { name: "javascript: with tab and newline", html: '<a href="java\tscr\nipt:alert(1)">x</a>', absent: [/script/i, /href/] },
  { name: "vbscript: href", html: '<a href="vbscript:msgbox(1)">x</a>', absent: [/vbscript/i, /href/] },
  { name: "data: href", html: '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', absent: [/data:/i] },
  { name: "data: image", html: '<img src="data:image/png;base64,iVBORw0KGgo=">', absent: [/data:/i] },
  { name: "protocol-relative image", html: '<img src="//evil.example/x.png">', absent: [/evil/] },
  { name: "CSS expression()", html: '<div style="width: expression(alert(1)); color: red">x</div>', absent: [/expression/i], present: [/color:red/] },
  { name: "CSS url(javascript:)", html: '<div style="background-color: url(javascript:alert(1))">x</div>', absent: [/url\(/i, /javascript/i] },
  { name: "CSS escaped expression", html: '<div style="width: e\\78pression(alert(1))">x</div>', absent: [/pression/i, /\\/] },
  { name: "CSS behavior and -moz-binding", html: '<div style="behavior: url(x.htc); -moz-binding: url(x.xml#b)">x</div>', absent: [/behavior/i, /binding/i] },
  { name: "CSS comment trick", html: '<div style="color: red/**/;width:exp/**/ression(alert(1))">x</div>', absent: [/ression/i, /\/\*/] },
  { name: "style block with @import", html: '<style>@import url(http://evil.example/x.css); p{color:red}</style><p>x</p>', absent: [/@import/i, /<style/i, /evil/] },
  { name: "link stylesheet", html: '<link rel="stylesheet" href="http://evil.example/x.css"><p>x</p>', absent: [/<link/i, /evil/] },
  { name: "meta refresh", html: '<meta http-equiv="refresh" content="0;url=http://evil.example"><p>x</p>', absent: [/<meta/i, /refresh/i, /evil/] },
  { name: "base href", html: '<base href="http://evil.example/"><a href="x">y</a>', absent: [/<base/i, /evil/, /href="x"/] },
  { name: "form, input and button", html: '<form action="http://evil.example"><input name="p" type="password"><button formaction="javascript:alert(1)">Go</button></form>', absent: [/<form/i, /<input/i, /<button/i, /evil/, /javascript/i], present: [/Go/] },
  { name: "iframe srcdoc", html: '<iframe srcdoc="<script>alert(1)</script>"></iframe>', absent: [/iframe/i, /srcdoc/i, /script/i] },
  { name: "object and embed", html: '<object data="x.swf"></object><embed src="x.swf">', absent: [/object/i, /embed/i, /swf/] },
  { name: "frameset", html: '<frameset><frame src="http://evil.example"></frameset>', absent: [/frame/i, /evil/] },
  { name: "srcdoc on an allowed tag", html: '<div srcdoc="x">y</div>', absent: [/srcdoc/i] },
  { name: "textarea breakout", html: "<textarea></textarea><script>alert(1)</script>", absent: [/script/i, /textarea/i] },
  { name: "forged data-remote-src", html: '<img data-remote-src="javascript:alert(1)" src="cid:a@b">', absent: [/javascript/i], present: [/src="cid:a@b"/] },
  { name: "id and class (clobbering the frame's DOM)", html: '<p id="x" class="y" name="z">t</p>', absent: [/id=/, /class=/, /name=/] },
];

describe("sanitizeMailHtml: hostile payloads", () => {
  it.each(vectors)("$name", ({ html, absent, present }) => {
    // the payload itself trips the safety predicate, so the predicate would notice it surviving
    expect(forbiddenHtml(html)).not.toEqual([]);
    const out = sanitizeMailHtml(html);
    for (const pattern of absent) expect(out).not.toMatch(pattern);
    for (const pattern of present ?? []) expect(out).toMatch(pattern);
    expect(forbiddenHtml(out)).toEqual([]);
  });
});

describe("sanitizeMailHtml: ordinary formatting survives", () => {
  it("keeps text formatting, lists, headings, quotes, code and rules", () => {
    const html = "<h1>T</h1><p>a<br><b>b</b><i>i</i><u>u</u><strong>s</strong><em>e</em></p><ul><li>1</li></ul><ol start=\"3\"><li>2</li></ol><blockquote>q</blockquote><pre><code>c</code></pre><hr><font color=\"red\" face=\"Arial\" size=\"2\">f</font>";
    expect(sanitizeMailHtml(html)).toBe(
      '<h1>T</h1><p>a<br /><b>b</b><i>i</i><u>u</u><strong>s</strong><em>e</em></p><ul><li>1</li></ul><ol start="3"><li>2</li></ol><blockquote>q</blockquote><pre><code>c</code></pre><hr /><font color="red" face="Arial" size="2">f</font>',
    );
  });

  it("keeps tables with their basic attributes", () => {
    const html = '<table border="0" cellpadding="2" cellspacing="0" width="100%" bgcolor="#eeeeee"><tr><th align="left">h</th><td colspan="2" valign="top">d</td></tr></table>';
    expect(sanitizeMailHtml(html)).toBe(html);
  });

  it("keeps allowed inline CSS and drops the rest property by property", () => {
    const out = sanitizeMailHtml(
      '<p style="color: #333; background-color: rgb(255, 250, 240); font-family: \'Segoe UI\', Arial, sans-serif; font-size: 14px; margin: 0 0 1em; padding-left: 4px; border: 1px solid #ccc; width: 100%; text-align: center !important; position: fixed; top: 0">x</p>',
    );
    expect(out).toBe(
      '<p style="color:#333;background-color:rgb(255, 250, 240);font-family:\'Segoe UI\', Arial, sans-serif;font-size:14px;margin:0 0 1em;padding-left:4px;border:1px solid #ccc;width:100%;text-align:center">x</p>',
    );
  });

  it("opens http, https and mailto links in a new context without referrer, and drops other links", () => {
    const link = sanitizeMailHtml('<a href="https://shop.example/o/1" target="_top" rel="opener">o</a>');
    expect(link).toContain('href="https://shop.example/o/1"');
    expect(link).toContain('rel="noopener noreferrer"');
    expect(link).toContain('target="_blank"');
    expect(link).not.toMatch(/_top|"opener"/);
    expect(sanitizeMailHtml('<a href="mailto:help@shop.example">m</a>')).toContain('href="mailto:help@shop.example"');
    expect(sanitizeMailHtml('<a href="ftp://x.example/f">f</a>')).not.toContain("href");
    expect(sanitizeMailHtml('<a href="/relative">r</a>')).not.toContain("href");
  });

  it("keeps cid: images and moves remote images to data-remote-src until the agent allows them", () => {
    const inline = sanitizeMailHtml('<img src="cid:logo@shop.example" alt="Logo" width="120">');
    expect(inline).toMatch(/^<img [^>]*\/>$/);
    expect(inline).toContain('src="cid:logo@shop.example"');
    expect(inline).toContain('alt="Logo"');
    expect(sanitizeMailHtml('<img src="https://tracker.example/p.gif?u=1&amp;v=2" width="1">')).toBe(
      '<img width="1" data-remote-src="https://tracker.example/p.gif?u=1&amp;v=2" />',
    );
  });

  it("keeps presentational attributes only with plain values", () => {
    expect(sanitizeMailHtml('<table><tr><td width="expression(alert(1))" bgcolor="javascript:alert(1)" align="left" valign="evil" colspan="2">x</td></tr></table>')).toBe(
      '<table><tr><td align="left" colspan="2">x</td></tr></table>',
    );
  });

  it("drops comments, including Outlook conditional comments", () => {
    expect(sanitizeMailHtml("<!--[if mso]><p>mso</p><![endif]--><p>x</p><!-- note -->")).toBe("<p>x</p>");
  });
});
