import { describe, expect, it } from "vitest";
import { parseImapCursor, uidSet } from "./imap-keys.js";

describe("uidSet", () => {
  it("compresses runs", () => {
    expect(uidSet([1, 2, 3, 5, 7, 8, 9, 12])).toBe("1:3,5,7:9,12");
    expect(uidSet([9, 3, 3, 4])).toBe("3:4,9");
    expect(uidSet([42])).toBe("42");
  });
});

describe("the IMAP cursor", () => {
  it("reads what the connector stored, and nothing else", () => {
    expect(parseImapCursor('{"uidValidity":"1795","lastUid":42}')).toEqual({ uidValidity: "1795", lastUid: 42 });
    expect(parseImapCursor(null)).toBeNull();
    expect(parseImapCursor("1795:42")).toBeNull();
    expect(parseImapCursor('{"uidValidity":1795,"lastUid":42}')).toBeNull();
    expect(parseImapCursor('{"uidValidity":"1795","lastUid":-1}')).toBeNull();
  });
});
