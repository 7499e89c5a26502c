import { describe, expect, it } from "vitest";
import { messageIdOf, messageIds, referenceIds } from "./message-ids.js";

describe("message ids", () => {
  it("strips angle brackets", () => {
    expect(messageIdOf(["<abc.123@mail.example>"])).toBe("abc.123@mail.example");
    expect(messageIdOf([])).toBeNull();
    expect(messageIdOf(["   "])).toBeNull();
  });

  it("reads folded, commented and garbled lists", () => {
    expect(messageIds(["<a@x> <b@\r\n x>  (comment <not-an-id) garbage <c@x"])).toEqual(["a@x", "b@x", "c@x"]);
    expect(messageIds(["<a@x> (Joe's message of Mon, 5 Jan 2026)"])).toEqual(["a@x"]);
    expect(messageIds(["a@x, b@x (comment c@y)"])).toEqual(["a@x", "b@x"]);
    expect(messageIds(["<a@x>", "<a@x> <b@x>"])).toEqual(["a@x", "b@x"]);
    expect(messageIds(["<a\u0000@x>"])).toEqual(["a@x"]);
    expect(messageIds(["root@x\r\n <a@x> garbage <b@x"])).toEqual(["root@x", "a@x", "b@x"]);
  });

  it("keeps the thread root and the most recent references when there are too many", () => {
    const value = Array.from({ length: 250 }, (_, i) => `<r${i}@x>`).join(" ");
    const ids = referenceIds([value]);
    expect(ids).toHaveLength(100);
    expect(ids[0]).toBe("r0@x");
    expect(ids[1]).toBe("r151@x");
    expect(ids[99]).toBe("r249@x");
  });
});
