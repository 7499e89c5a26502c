import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { md4 } from "./md4.js";
import { ntlmAuthenticate, ntlmNegotiate, ntlmUser, ntowfv2, parseChallenge, type NtlmChallenge } from "./ntlm.js";

// Built by hand from MS-NLMP 2.2, independently of ntlm.ts, so that a layout mistake there shows.

const signature = "4e544c4d53535000"; // "NTLMSSP\0"

function avPair(id: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16LE(id, 0);
  header.writeUInt16LE(value.length, 2);
  return Buffer.concat([header, value]);
}

const utf16 = (text: string) => Buffer.from(text, "utf16le");
const eol = avPair(0, Buffer.alloc(0));

/** Len, MaxLen, Offset at `at`, and the bytes they point at. */
function field(message: Buffer, at: number) {
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  return { length, maxLength: message.readUInt16LE(at + 2), offset, bytes: message.subarray(offset, offset + length) };
}

/** A CHALLENGE_MESSAGE with a VERSION, TargetName then TargetInfo in the payload. */
function challengeMessage(options: { flags: number; serverChallenge?: Buffer; targetName?: Buffer; targetInfo?: Buffer }): Buffer {
  const targetName = options.targetName ?? Buffer.alloc(0);
  const targetInfo = options.targetInfo ?? Buffer.alloc(0);
  const header = Buffer.alloc(56);
  Buffer.from(signature, "hex").copy(header, 0);
  header.writeUInt32LE(2, 8);
  header.writeUInt16LE(targetName.length, 12);
  header.writeUInt16LE(targetName.length, 14);
  header.writeUInt32LE(56, 16);
  header.writeUInt32LE(options.flags, 20);
  (options.serverChallenge ?? Buffer.from("0123456789abcdef", "hex")).copy(header, 24);
  header.writeUInt16LE(targetInfo.length, 40);
  header.writeUInt16LE(targetInfo.length, 42);
  header.writeUInt32LE(56 + targetName.length, 44);
  Buffer.from([10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f]).copy(header, 48);
  return Buffer.concat([header, targetName, targetInfo]);
}

// A typical Windows server's choice: UNICODE, REQUEST_TARGET, SIGN, SEAL, NTLM, ALWAYS_SIGN,
// TARGET_TYPE_SERVER, EXTENDED_SESSIONSECURITY, TARGET_INFO, VERSION, 128, KEY_EXCH, 56
const serverFlags = 0xe28a8235;
const filetime = Buffer.from("0090d7f3c8a7d901", "hex");
const serverTargetInfo = Buffer.concat([
  avPair(2, utf16("CONTOSO")),
  avPair(1, utf16("EXCH01")),
  avPair(4, utf16("contoso.com")),
  avPair(7, filetime),
  eol,
]);

describe("ntowfv2", () => {
  it("matches ResponseKeyNT of MS-NLMP 4.2.4.1.1", () => {
    expect(ntowfv2("Password", "User", "Domain").toString("hex")).toBe("0c868a403bfd7a93a3001ef22ef02e3f");
  });

  it("upper-cases the user but not the domain", () => {
    expect(ntowfv2("Password", "user", "Domain").toString("hex")).toBe("0c868a403bfd7a93a3001ef22ef02e3f");
    expect(ntowfv2("Password", "User", "DOMAIN").toString("hex")).not.toBe("0c868a403bfd7a93a3001ef22ef02e3f");
  });

  it("keeps a letter whose capital is two letters, as Windows does", () => {
    const expected = createHmac("md5", md4(utf16("pw"))).update(utf16("STRAßEdom")).digest("hex");
    expect(ntowfv2("pw", "straße", "dom").toString("hex")).toBe(expected);
  });
});

describe("ntlmNegotiate", () => {
  it("builds a 40-byte NEGOTIATE_MESSAGE with the documented flags and no domain or workstation", () => {
    const message = Buffer.from(ntlmNegotiate(), "base64");
    expect(message.length).toBe(40);
    expect(message.subarray(0, 8).toString("hex")).toBe(signature);
    expect(message.readUInt32LE(8)).toBe(1);
    // UNICODE 0x1 | REQUEST_TARGET 0x4 | NTLM 0x200 | ALWAYS_SIGN 0x8000 | EXTENDED_SESSIONSECURITY 0x80000
    // | VERSION 0x2000000 | 128 0x20000000 | 56 0x80000000
    expect(message.readUInt32LE(12)).toBe(0xa2088205);
    expect(field(message, 16)).toMatchObject({ length: 0, maxLength: 0, offset: 40 });
    expect(field(message, 24)).toMatchObject({ length: 0, maxLength: 0, offset: 40 });
    // VERSION: no product version claimed, NTLMSSP revision 15
    expect(message.subarray(32, 40).toString("hex")).toBe("000000000000000f");
  });
});

describe("parseChallenge", () => {
  it("reads the flags, challenge, Unicode target name, target info and timestamp", () => {
    const message = challengeMessage({
      flags: serverFlags,
      serverChallenge: Buffer.from("a1b2c3d4e5f60718", "hex"),
      targetName: utf16("CONTOSO"),
      targetInfo: serverTargetInfo,
    });
    const challenge = parseChallenge(message.toString("base64"));
    expect(challenge.flags).toBe(serverFlags);
    expect(challenge.serverChallenge.toString("hex")).toBe("a1b2c3d4e5f60718");
    expect(challenge.targetName).toBe("CONTOSO");
    expect(challenge.targetInfo.equals(serverTargetInfo)).toBe(true);
    expect(challenge.timestamp?.toString("hex")).toBe(filetime.toString("hex"));
  });

  it("has no timestamp when the target info carries none", () => {
    const targetInfo = Buffer.concat([avPair(2, utf16("CONTOSO")), eol]);
    const challenge = parseChallenge(challengeMessage({ flags: serverFlags, targetInfo }).toString("base64"));
    expect(challenge.timestamp).toBeNull();
    expect(challenge.targetInfo.equals(targetInfo)).toBe(true);
  });

  it("reads an OEM target name when the server did not choose Unicode", () => {
    const message = challengeMessage({ flags: 0x00000202, targetName: Buffer.from("CONTOSO", "latin1") });
    expect(parseChallenge(message.toString("base64")).targetName).toBe("CONTOSO");
  });

  it("ignores the target info field when the TARGET_INFO flag is clear", () => {
    const message = challengeMessage({ flags: 0x00000201, targetInfo: serverTargetInfo });
    const challenge = parseChallenge(message.toString("base64"));
    expect(challenge.targetInfo.length).toBe(0);
    expect(challenge.timestamp).toBeNull();
  });

  it("accepts an empty field whose offset points past the end", () => {
    const message = challengeMessage({ flags: serverFlags, targetInfo: serverTargetInfo });
    message.writeUInt32LE(0xffff, 16);
    expect(parseChallenge(message.toString("base64")).targetName).toBe("");
  });

  it("accepts surrounding whitespace from the header", () => {
    const message = challengeMessage({ flags: serverFlags, targetInfo: serverTargetInfo });
    expect(parseChallenge(` ${message.toString("base64")}\r\n`).flags).toBe(serverFlags);
  });

  describe("rejects a malformed message", () => {
    const valid = () => challengeMessage({ flags: serverFlags, targetName: utf16("CONTOSO"), targetInfo: serverTargetInfo });
    const reject = (message: Buffer | string, reason: RegExp) =>
      expect(() => parseChallenge(typeof message === "string" ? message : message.toString("base64"))).toThrow(reason);

    it("that is not base64", () => reject("NTLM TlRMTVNTUAACAAAA", /Malformed NTLM challenge: it is not base64/));

    it("shorter than the header", () => reject(valid().subarray(0, 31), /Malformed NTLM challenge: it is 31 bytes long/));

    it("without the signature", () => {
      const message = valid();
      message.write("NTLMSSQ", 0, "latin1");
      reject(message, /Malformed NTLM challenge: .*NTLMSSP signature/);
    });

    it("of another type", () => reject(ntlmNegotiate(), /Malformed NTLM challenge: it is message type 1, not 2/));

    it("whose target name lies outside it", () => {
      const message = valid();
      message.writeUInt32LE(message.length - 4, 16);
      reject(message, /Malformed NTLM challenge: TargetName \(14 bytes at offset \d+\) lies outside/);
    });

    it("whose target info lies outside it", () => {
      const message = valid();
      message.writeUInt16LE(serverTargetInfo.length + 1, 40);
      reject(message, /Malformed NTLM challenge: TargetInfo .* lies outside/);
    });

    it("that announces target info but stops before the field", () => {
      const message = challengeMessage({ flags: serverFlags, targetInfo: serverTargetInfo }).subarray(0, 40);
      reject(message, /Malformed NTLM challenge: it announces TargetInfo but ends before/);
    });

    it("whose AV pair runs past the target info", () => {
      const targetInfo = Buffer.concat([avPair(2, utf16("CONTOSO")), eol]);
      targetInfo.writeUInt16LE(200, 2);
      reject(challengeMessage({ flags: serverFlags, targetInfo }), /Malformed NTLM challenge: AV pair 2 .* runs past the end/);
    });

    it("whose timestamp is not 8 bytes", () => {
      const targetInfo = Buffer.concat([avPair(7, Buffer.alloc(4)), eol]);
      reject(challengeMessage({ flags: serverFlags, targetInfo }), /Malformed NTLM challenge: MsvAvTimestamp is 4 bytes, not 8/);
    });

    it("whose target info lacks the terminator", () => {
      const targetInfo = avPair(2, utf16("CONTOSO"));
      reject(challengeMessage({ flags: serverFlags, targetInfo }), /Malformed NTLM challenge: TargetInfo does not end with MsvAvEOL/);
    });
  });
});

/** The AUTHENTICATE_MESSAGE's fields, by MS-NLMP 2.2.1.3. */
function readAuthenticate(base64: string) {
  const message = Buffer.from(base64, "base64");
  return {
    message,
    signature: message.subarray(0, 8).toString("hex"),
    type: message.readUInt32LE(8),
    lm: field(message, 12),
    nt: field(message, 20),
    domain: field(message, 28),
    user: field(message, 36),
    workstation: field(message, 44),
    sessionKey: field(message, 52),
    flags: message.readUInt32LE(60),
  };
}

describe("ntlmAuthenticate", () => {
  it("computes the NTLMv2 and LMv2 responses of MS-NLMP 4.2.4", () => {
    const targetInfo = Buffer.concat([avPair(2, utf16("Domain")), avPair(1, utf16("Server")), eol]);
    const challenge: NtlmChallenge = {
      flags: 0xe28a8233,
      serverChallenge: Buffer.from("0123456789abcdef", "hex"),
      targetName: "Server",
      targetInfo,
      timestamp: null,
    };
    const options = { clientChallenge: Buffer.alloc(8, 0xaa), timestamp: Buffer.alloc(8) };
    const auth = readAuthenticate(ntlmAuthenticate(challenge, { user: "User", domain: "Domain", password: "Password" }, options));

    // NTProofStr (4.2.4.2.2), then temp (4.2.4.1.3)
    expect(auth.nt.bytes.subarray(0, 16).toString("hex")).toBe("68cd0ab851e51c96aabc927bebef6a1c");
    const temp = `0101000000000000${"00".repeat(8)}${"aa".repeat(8)}00000000${targetInfo.toString("hex")}00000000`;
    expect(auth.nt.bytes.subarray(16).toString("hex")).toBe(temp);
    // LMv2 (4.2.4.2.1): the server sent no timestamp
    expect(auth.lm.bytes.toString("hex")).toBe(`86c35097ac9cec102554764a57cccc19${"aa".repeat(8)}`);
  });

  const challenge: NtlmChallenge = {
    flags: serverFlags,
    serverChallenge: Buffer.from("a1b2c3d4e5f60718", "hex"),
    targetName: "CONTOSO",
    targetInfo: serverTargetInfo,
    timestamp: filetime,
  };
  const credentials = { user: "jdoe", domain: "CONTOSO", password: "S3cret!", workstation: "WS01" };
  const clientChallenge = Buffer.from("0011223344556677", "hex");

  it("lays the fields out where their security buffers point, with no gap for a MIC", () => {
    const auth = readAuthenticate(ntlmAuthenticate(challenge, credentials, { clientChallenge }));
    expect(auth.signature).toBe(signature);
    expect(auth.type).toBe(3);
    expect(auth.domain.bytes.toString("utf16le")).toBe("CONTOSO");
    expect(auth.user.bytes.toString("utf16le")).toBe("jdoe");
    expect(auth.workstation.bytes.toString("utf16le")).toBe("WS01");
    expect(auth.sessionKey.length).toBe(0);

    // VERSION after the flags, then the payload at once: 72 bytes of header
    expect(auth.message.subarray(64, 72).toString("hex")).toBe("000000000000000f");
    const fields = [auth.lm, auth.nt, auth.domain, auth.user, auth.workstation, auth.sessionKey];
    let offset = 72;
    for (const f of fields) {
      expect(f.maxLength).toBe(f.length);
      expect(f.offset).toBe(offset);
      offset += f.length;
    }
    expect(auth.message.length).toBe(offset);
  });

  it("echoes only the negotiated flags: no signing, sealing or key exchange", () => {
    const auth = readAuthenticate(ntlmAuthenticate(challenge, credentials, { clientChallenge }));
    // UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, TARGET_INFO, VERSION, 128, 56
    expect(auth.flags).toBe(0xa2888205);
  });

  it("sends an NT response that recomputes from the server's challenge, timestamp and target info", () => {
    const auth = readAuthenticate(ntlmAuthenticate(challenge, credentials, { clientChallenge }));
    const proof = auth.nt.bytes.subarray(0, 16);
    const temp = auth.nt.bytes.subarray(16);
    expect(temp.subarray(0, 8).toString("hex")).toBe("0101000000000000");
    expect(temp.subarray(8, 16).equals(filetime)).toBe(true);
    expect(temp.subarray(16, 24).equals(clientChallenge)).toBe(true);
    expect(temp.subarray(24, 28).toString("hex")).toBe("00000000");
    expect(temp.subarray(28, 28 + serverTargetInfo.length).equals(serverTargetInfo)).toBe(true);
    expect(temp.subarray(28 + serverTargetInfo.length).toString("hex")).toBe("00000000");

    const key = createHmac("md5", md4(utf16("S3cret!"))).update(utf16("JDOECONTOSO")).digest();
    const expected = createHmac("md5", key).update(challenge.serverChallenge).update(temp).digest();
    expect(proof.toString("hex")).toBe(expected.toString("hex"));
  });

  it("sends 24 zero bytes as the LM response when the server sent a timestamp", () => {
    const auth = readAuthenticate(ntlmAuthenticate(challenge, credentials, { clientChallenge }));
    expect(auth.lm.bytes.toString("hex")).toBe("00".repeat(24));
  });

  it("stamps the current time and a random client challenge when the server sent no timestamp", () => {
    const targetInfo = Buffer.concat([avPair(2, utf16("CONTOSO")), eol]);
    const plain = { ...challenge, targetInfo, timestamp: null };
    const first = readAuthenticate(ntlmAuthenticate(plain, credentials));
    const second = readAuthenticate(ntlmAuthenticate(plain, credentials));

    const ticks = first.nt.bytes.readBigUInt64LE(24);
    const ms = Number(ticks / 10_000n) - 11_644_473_600_000;
    expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);

    const firstChallenge = first.nt.bytes.subarray(32, 40);
    expect(firstChallenge.equals(second.nt.bytes.subarray(32, 40))).toBe(false);
    // LMv2, with the same client challenge as the NT response
    const key = ntowfv2("S3cret!", "jdoe", "CONTOSO");
    const lmProof = createHmac("md5", key).update(challenge.serverChallenge).update(firstChallenge).digest();
    expect(first.lm.bytes.toString("hex")).toBe(Buffer.concat([lmProof, firstChallenge]).toString("hex"));
  });

  it("leaves the VERSION out when the server did not negotiate it", () => {
    const auth = readAuthenticate(ntlmAuthenticate({ ...challenge, flags: serverFlags & ~0x02000000 }, credentials));
    expect(auth.flags & 0x02000000).toBe(0);
    expect(auth.lm.offset).toBe(64);
  });

  it("declares Unicode even if the server chose OEM, since the strings are UTF-16LE", () => {
    const auth = readAuthenticate(ntlmAuthenticate({ ...challenge, flags: serverFlags & ~1 }, credentials));
    expect(auth.flags & 1).toBe(1);
  });

  it("sends an empty workstation when none is given", () => {
    const auth = readAuthenticate(ntlmAuthenticate(challenge, { user: "jdoe", domain: "", password: "x" }));
    expect(auth.workstation.length).toBe(0);
    expect(auth.domain.length).toBe(0);
  });

  it("refuses a response too long for a security buffer", () => {
    const targetInfo = Buffer.concat([avPair(2, Buffer.alloc(65_500)), eol]);
    expect(() => ntlmAuthenticate({ ...challenge, targetInfo }, credentials)).toThrow(/does not fit a security buffer/);
  });

  it("refuses a client challenge or timestamp of the wrong size", () => {
    expect(() => ntlmAuthenticate(challenge, credentials, { clientChallenge: Buffer.alloc(7) })).toThrow(/client challenge must be 8 bytes/);
    expect(() => ntlmAuthenticate(challenge, credentials, { timestamp: Buffer.alloc(4) })).toThrow(/timestamp must be an 8-byte FILETIME/);
  });
});

describe("ntlmUser", () => {
  it.each([
    ["CONTOSO\\jdoe", { user: "jdoe", domain: "CONTOSO" }],
    ["jdoe@contoso.com", { user: "jdoe@contoso.com", domain: "" }],
    ["jdoe", { user: "jdoe", domain: "" }],
  ])("splits %j", (login, expected) => {
    expect(ntlmUser(login)).toEqual(expected);
  });
});
