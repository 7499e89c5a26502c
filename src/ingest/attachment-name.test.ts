import { describe, expect, it } from "vitest";
import { extensionFor, isSafeFilename, maxFilenameLength, safeFilename } from "./attachment-name.js";

describe("safeFilename", () => {
  it.each([
    ["../../etc/passwd", "passwd"],
    ["..\\..\\boot.ini", "boot.ini"],
    ["/etc/shadow", "shadow"],
    ["C:\\Users\\x\\report.pdf", "report.pdf"],
    ["dir/", "dir"],
    ["report\u0000.pdf.exe", "report.pdf.exe"],
    ["invoice\u202Etxt.exe", "invoicetxt.exe"],
    ["CON.txt", "_CON.txt"],
    ["nul", "_nul"],
    ["lpt1.tar.gz", "_lpt1.tar.gz"],
    [".htaccess", "htaccess"],
    ["...", "attachment-3.pdf"],
    ["name. . .", "name"],
    ['a<b>c:"d"|e?f*.txt', "a_b_c__d__e_f_.txt"],
    ["fake\uff0fslash.txt", "fake_slash.txt"],
    ["  Résumé  final.pdf ", "Résumé final.pdf"],
    ["請求書.pdf", "請求書.pdf"],
    ["line\r\nbreak.txt", "linebreak.txt"],
  ])("%j becomes %j", (input, expected) => {
    expect(safeFilename(input, 3, "application/pdf")).toBe(expected);
    expect(isSafeFilename(expected)).toBe(true);
  });

  it("names unnamed parts after their position and content type", () => {
    expect(safeFilename(null, 1, "application/pdf")).toBe("attachment-1.pdf");
    expect(safeFilename("", 2, "image/png")).toBe("attachment-2.png");
    expect(safeFilename(undefined, 4, "application/x-unknown")).toBe("attachment-4.bin");
    expect(extensionFor("message/rfc822")).toBe("eml");
  });

  it("bounds the length and keeps the extension", () => {
    const name = safeFilename(`${"a".repeat(300)}.pdf`, 1, "application/pdf");
    expect([...name]).toHaveLength(maxFilenameLength);
    expect(name.endsWith(".pdf")).toBe(true);
    const wide = safeFilename(`${"😀".repeat(250)}.docx`, 1, "application/octet-stream");
    expect([...wide]).toHaveLength(maxFilenameLength);
    expect(wide.endsWith(".docx")).toBe(true);
  });
});

describe("isSafeFilename", () => {
  it.each(["../x", "a/b", "a\\b", ".hidden", "x.", " x", "CON", "com1.txt", "a\u0000b", "a\u202Eb", "a:b", "", "x".repeat(201)])(
    "refuses %j",
    (name) => {
      expect(isSafeFilename(name)).toBe(false);
    },
  );
});
