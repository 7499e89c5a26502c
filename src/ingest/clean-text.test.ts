import { describe, expect, it } from "vitest";
import { cleanLine, cleanText, truncate } from "./clean-text.js";

describe("cleanLine", () => {
  it.each([
    ["Hello\r\nBcc: evil@example.com", "Hello Bcc: evil@example.com"],
    ["tab\tand\u0000nul", "tab and nul"],
    ["  spaced   out  ", "spaced out"],
    ["line\u2028separator\u0085next", "line separator next"],
    ["evil\u202Egnp.exe", "evilgnp.exe"],
    ["שלום\u200F", "שלום\u200F"],
  ])("%j becomes %j", (input, expected) => {
    expect(cleanLine(input)).toBe(expected);
  });

  it("bounds the length without splitting a surrogate pair", () => {
    expect(cleanLine("x".repeat(5000))).toHaveLength(998);
    expect(truncate("ab😀", 3)).toBe("ab");
  });
});

describe("cleanText", () => {
  it("keeps line feeds and tabs, normalizes CR/LF and drops other controls", () => {
    expect(cleanText("a\r\nb\rc\n\td\u0000e\u0007f")).toBe("a\nb\nc\n\tdef");
  });
});
