import { parseAddressHeader } from "mailparser";
import { describe, expect, it } from "vitest";
import { addressList, firstAddress, normalizeAddress } from "./addresses.js";

describe("addresses", () => {
  it("lower-cases the domain, keeps the local part, trims and drops brackets and controls", () => {
    expect(normalizeAddress("  Jane.Doe@Example.COM ")).toBe("Jane.Doe@example.com");
    expect(normalizeAddress("<a@b.example>")).toBe("a@b.example");
    expect(normalizeAddress("a\r\n@b.example")).toBe("a@b.example");
    expect(normalizeAddress("MAILER-DAEMON")).toBe("MAILER-DAEMON");
  });

  it("flattens groups and skips empty ones", () => {
    const to = parseAddressHeader('Team: a@x.example, "B" <b@X.example>;, undisclosed-recipients:;, c@y.example');
    expect(addressList(to)).toEqual([
      { address: "a@x.example", name: "" },
      { address: "b@x.example", name: "B" },
      { address: "c@y.example", name: "" },
    ]);
  });

  it("joins repeated headers in order", () => {
    expect(addressList([parseAddressHeader("a@x.example"), parseAddressHeader("b@x.example")]).map((a) => a.address)).toEqual([
      "a@x.example",
      "b@x.example",
    ]);
  });

  it("never lets CR/LF through a decoded display name", () => {
    const from = firstAddress(parseAddressHeader("=?UTF-8?Q?Support=0D=0ABcc=3A_victim=40x=2Eexample?= <help@shop.example>"));
    expect(from.address).toBe("help@shop.example");
    expect(from.name).toBe("Support Bcc: victim@x.example");
  });

  it("gives the empty address when there is no From", () => {
    expect(firstAddress(undefined)).toEqual({ address: "", name: "" });
  });
});
