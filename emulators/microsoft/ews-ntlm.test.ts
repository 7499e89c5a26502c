import { describe, expect, it } from "vitest";
import { md4 } from "./ews-md4.js";
import { challengeMessage, FLAGS, ntowfv2, parseAuthenticateMessage, verifyNtlmV2 } from "./ews-ntlm.js";

describe("MD4", () => {
  it("gives the RFC 1320 test suite's digests", () => {
    const suite: [string, string][] = [
      ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
      ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
      ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
      ["message digest", "d9130a8164549fe818874806e1c7014b"],
      ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
      ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
      ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"],
    ];
    for (const [input, digest] of suite) expect(md4(Buffer.from(input, "latin1")).toString("hex")).toBe(digest);
  });

  it("gives MS-NLMP's NT hash of \"Password\" (4.2.2.1.2): MD4 of its UTF-16LE bytes", () => {
    expect(md4(Buffer.from("Password", "utf16le")).toString("hex")).toBe("a4f49c406510bdcab6824ee7c30fd852");
  });
});

describe("NTLMv2 (MS-NLMP 4.2.4)", () => {
  const user = "User";
  const domain = "Domain";
  const serverChallenge = Buffer.from("0123456789abcdef", "hex");
  const clientChallenge = Buffer.from("aaaaaaaaaaaaaaaa", "hex");
  // the challenge's TargetInfo in the example: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL
  const av = (id: number, value: string) => {
    const v = Buffer.from(value, "utf16le");
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(v.length, 2);
    return Buffer.concat([head, v]);
  };
  const targetInfo = Buffer.concat([av(2, "Domain"), av(1, "Server"), Buffer.alloc(4)]);
  // temp: Responserversion, HiResponserversion, Z(6), Time (0 in the example), ClientChallenge, Z(4), ServerName, Z(4)
  const temp = Buffer.concat([Buffer.from([1, 1]), Buffer.alloc(6), Buffer.alloc(8), clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)]);
  const ntProofStr = Buffer.from("68cd0ab851e51c96aabc927bebef6a1c", "hex");

  it("derives the documented NTOWFv2", () => {
    expect(ntowfv2("Password", user, domain).toString("hex")).toBe("0c868a403bfd7a93a3001ef22ef02e3f");
  });

  it("accepts the documented NTProofStr and nothing else", () => {
    const response = Buffer.concat([ntProofStr, temp]);
    expect(verifyNtlmV2(response, serverChallenge, "Password", user, domain)).toBe(true);
    expect(verifyNtlmV2(response, serverChallenge, "password", user, domain)).toBe(false);
    expect(verifyNtlmV2(response, Buffer.from("0123456789abcdee", "hex"), "Password", user, domain)).toBe(false);
    // the user name is upper-cased, the domain is not
    expect(verifyNtlmV2(response, serverChallenge, "Password", "USER", domain)).toBe(true);
    expect(verifyNtlmV2(response, serverChallenge, "Password", user, "DOMAIN")).toBe(false);
    // an NTLMv1 response is 24 bytes: never NTLMv2
    expect(verifyNtlmV2(Buffer.alloc(24, 1), serverChallenge, "Password", user, domain)).toBe(false);
  });

  it("writes a CHALLENGE_MESSAGE with the flags, challenge, target name and AV pairs a client needs", () => {
    const challenge = Buffer.from("1122334455667788", "hex");
    const now = new Date("2026-11-30T22:04:14Z");
    const msg = challengeMessage(challenge, FLAGS.bits128, now);
    expect(msg.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
    expect(msg.readUInt32LE(8)).toBe(2);
    const flags = msg.readUInt32LE(20);
    for (const f of [FLAGS.unicode, FLAGS.ntlm, FLAGS.alwaysSign, FLAGS.extendedSessionSecurity, FLAGS.targetInfo, FLAGS.requestTarget, FLAGS.version, FLAGS.bits128]) {
      expect(flags & f).toBe(f);
    }
    expect(msg.subarray(24, 32).equals(challenge)).toBe(true);
    const field = (at: number) => msg.subarray(msg.readUInt32LE(at + 4), msg.readUInt32LE(at + 4) + msg.readUInt16LE(at));
    expect(field(12).toString("utf16le")).toBe("ACME");
    const info = field(40);
    const pairs = new Map<number, Buffer>();
    for (let i = 0; i < info.length; ) {
      const id = info.readUInt16LE(i);
      const len = info.readUInt16LE(i + 2);
      pairs.set(id, info.subarray(i + 4, i + 4 + len));
      i += 4 + len;
      if (id === 0) break;
    }
    expect(pairs.get(2)?.toString("utf16le")).toBe("ACME");
    expect(pairs.get(1)?.toString("utf16le")).toBe("EXCH01");
    expect(pairs.get(4)?.toString("utf16le")).toBe("acme.test");
    expect(pairs.get(3)?.toString("utf16le")).toBe("exch01.acme.test");
    expect(pairs.get(7)?.readBigUInt64LE()).toBe((BigInt(now.getTime()) + 11_644_473_600_000n) * 10_000n);
    expect(pairs.has(0)).toBe(true);
  });

  it("reads an AUTHENTICATE_MESSAGE's security buffers, and refuses one pointing past its end", () => {
    const strings = [Buffer.alloc(24), Buffer.alloc(48, 2), Buffer.from("Domain", "utf16le"), Buffer.from("User", "utf16le"), Buffer.from("WS", "utf16le")];
    const head = Buffer.alloc(64);
    head.write("NTLMSSP\0", 0, "latin1");
    head.writeUInt32LE(3, 8);
    let offset = 64;
    strings.forEach((s, i) => {
      head.writeUInt16LE(s.length, 12 + i * 8);
      head.writeUInt16LE(s.length, 14 + i * 8);
      head.writeUInt32LE(offset, 16 + i * 8);
      offset += s.length;
    });
    head.writeUInt32LE(FLAGS.unicode, 60);
    const msg = Buffer.concat([head, ...strings]);
    expect(parseAuthenticateMessage(msg)).toMatchObject({ domain: "Domain", user: "User", workstation: "WS" });
    expect(parseAuthenticateMessage(msg)?.ntResponse.length).toBe(48);
    expect(parseAuthenticateMessage(msg.subarray(0, msg.length - 1))).toBeNull();
  });
});
