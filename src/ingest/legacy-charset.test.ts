import { describe, expect, it } from "vitest";
import { decodeUtf8OrWindows1252, decodeWindows1252 } from "./legacy-charset.js";

describe("legacy charset", () => {
  it("decodes the Windows-1252 range 0x80–0x9F as Windows does", () => {
    expect(decodeWindows1252(Buffer.from([0x80, 0x93, 0x61, 0x94, 0x99, 0xfc]))).toBe("€“a”™ü");
  });

  it("prefers UTF-8 and says when it fell back", () => {
    expect(decodeUtf8OrWindows1252(Buffer.from("Grüße", "utf8"))).toEqual({ text: "Grüße", legacy: false });
    expect(decodeUtf8OrWindows1252(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]))).toEqual({ text: "Grüße", legacy: true });
  });
});
