import { describe, expect, it } from "vitest";
import { htmlToText } from "./html-to-text.js";

describe("htmlToText", () => {
  it("breaks lines at block elements and <br>, leaves a blank line between paragraphs, collapses source whitespace", () => {
    expect(htmlToText("<p>Hello\n   <b>World</b></p><p>Para 2</p><div>Line 3<br>Line 4</div><div>Line 5<br><br>Line 6</div>")).toBe(
      "Hello World\n\nPara 2\n\nLine 3\nLine 4\nLine 5\n\nLine 6",
    );
  });

  it("decodes entities", () => {
    expect(htmlToText("<p>Fish &amp; chips &lt;3 &quot;ok&quot; caf&eacute; &#8364;5&nbsp;total &#x1F600;</p>")).toBe('Fish & chips <3 "ok" café €5 total 😀');
  });

  it("drops scripts, styles and the title", () => {
    expect(htmlToText("<html><head><title>T</title><style>p{color:red}</style></head><body><script>alert(1)</script><p>Visible</p></body></html>")).toBe("Visible");
  });

  it("keeps table cells apart and rows on their own lines", () => {
    expect(htmlToText("<table><tr><td>Order</td><td>42</td></tr><tr><td>Total</td><td>9.90</td></tr></table>")).toBe("Order 42\nTotal 9.90");
  });

  it("keeps the line breaks inside <pre>", () => {
    expect(htmlToText("<pre>line 1\nline 2</pre>")).toBe("line 1\nline 2");
  });

  it("keeps at most one blank line", () => {
    expect(htmlToText("<p>a</p><p></p><p></p><div></div><p>b</p>")).toBe("a\n\nb");
  });

  it("does not get confused by the private-use marker in the input", () => {
    expect(htmlToText("<p>a\ue000b\ue002c</p>")).toBe("abc");
  });
});
