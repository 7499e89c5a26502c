import { describe, expect, it } from "vitest";
import { md4 } from "./md4.js";

const hex = (data: Buffer): string => md4(data).toString("hex");

describe("md4", () => {
  it.each([
    ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
    ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
    ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
    ["message digest", "d9130a8164549fe818874806e1c7014b"],
    ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
    ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"],
  ])("matches the RFC 1320 test suite (A.5) for %j", (input, digest) => {
    expect(hex(Buffer.from(input, "latin1"))).toBe(digest);
  });

  // Expected values from OpenSSL's legacy provider (`openssl dgst -md4 -provider legacy`), checked
  // again with `node --openssl-legacy-provider`: lengths around the padding boundaries, where the
  // length word fits in the last block (55) or spills into an extra one (56, 64, 120).
  it.each([
    [55, "c889c81dd86c4d2e025778944ea02881"],
    [56, "d5f9a9e9257077a5f08b0b92f348b0ad"],
    [63, "7ea3da77432d44c323671097d1348fc8"],
    [64, "52f5076fabd22680234a3fa9f9dc5732"],
    [65, "330e377bf231f3cacfecc2c182fe7e5b"],
    [119, "e65dd227ccef97fa1d34d70189120f76"],
    [120, "b03ddbd470b47c013e0c7ab2ddd763db"],
    [128, "cb4a20a561558e29460190c91dced59f"],
  ])("pads an input of %i bytes correctly", (length, digest) => {
    expect(hex(Buffer.alloc(length, "a"))).toBe(digest);
  });

  it("hashes a multi-block input of every byte value", () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
    expect(hex(data)).toBe("ddef918b4199515fafb1e5fc23e801c3");
  });

  it("does not modify its input", () => {
    const data = Buffer.from("abc");
    md4(data);
    expect(data.toString()).toBe("abc");
  });
});
