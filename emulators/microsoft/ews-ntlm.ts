import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { md4 } from "./ews-md4.js";

/**
 * The server side of NTLM over HTTP, NTLMv2 only (MS-NLMP, https://learn.microsoft.com/openspecs/windows_protocols/ms-nlmp):
 * the CHALLENGE_MESSAGE the server answers a NEGOTIATE_MESSAGE with, reading the client's AUTHENTICATE_MESSAGE, and
 * checking its NTLMv2 response against the user's password. Signing and sealing are not negotiated: HTTP does not use them.
 */

const SIGNATURE = Buffer.from("NTLMSSP\0", "latin1");

/** NegotiateFlags (MS-NLMP 2.2.2.5) */
export const FLAGS = {
  unicode: 0x00000001,
  oem: 0x00000002,
  requestTarget: 0x00000004,
  ntlm: 0x00000200,
  alwaysSign: 0x00008000,
  targetTypeDomain: 0x00010000,
  extendedSessionSecurity: 0x00080000,
  targetInfo: 0x00800000,
  version: 0x02000000,
  bits128: 0x20000000,
  bits56: 0x80000000,
} as const;

/** AV_PAIR ids (MS-NLMP 2.2.2.1) */
const AV = { eol: 0, nbComputerName: 1, nbDomainName: 2, dnsComputerName: 3, dnsDomainName: 4, timestamp: 7 } as const;

/** The emulated server's names, as a domain-joined Exchange server announces them. */
export const SERVER_NAMES = { nbDomain: "ACME", nbComputer: "EXCH01", dnsDomain: "acme.test", dnsComputer: "exch01.acme.test" } as const;

const utf16 = (s: string) => Buffer.from(s, "utf16le");

/** The type of an NTLM message (1, 2 or 3), or null when the bytes are not one. */
export function ntlmMessageType(msg: Buffer): number | null {
  if (msg.length < 12 || !msg.subarray(0, 8).equals(SIGNATURE)) return null;
  return msg.readUInt32LE(8);
}

function avPair(id: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(id, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value]);
}

/** FILETIME: 100 ns intervals since 1601-01-01, 64 bits little-endian. */
function fileTime(when: Date): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE((BigInt(when.getTime()) + 11_644_473_600_000n) * 10_000n);
  return out;
}

/** CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) for a client's NEGOTIATE_MESSAGE flags. */
export function challengeMessage(serverChallenge: Buffer, negotiateFlags: number, now: Date): Buffer {
  let flags =
    FLAGS.unicode | FLAGS.requestTarget | FLAGS.ntlm | FLAGS.alwaysSign | FLAGS.targetTypeDomain | FLAGS.extendedSessionSecurity | FLAGS.targetInfo | FLAGS.version;
  // key strengths are echoed when asked for, as Windows servers do; no key is used over HTTP anyway
  flags |= negotiateFlags & (FLAGS.bits128 | FLAGS.bits56);
  const targetName = utf16(SERVER_NAMES.nbDomain);
  const targetInfo = Buffer.concat([
    avPair(AV.nbDomainName, utf16(SERVER_NAMES.nbDomain)),
    avPair(AV.nbComputerName, utf16(SERVER_NAMES.nbComputer)),
    avPair(AV.dnsDomainName, utf16(SERVER_NAMES.dnsDomain)),
    avPair(AV.dnsComputerName, utf16(SERVER_NAMES.dnsComputer)),
    avPair(AV.timestamp, fileTime(now)),
    avPair(AV.eol, Buffer.alloc(0)),
  ]);
  const head = Buffer.alloc(56);
  SIGNATURE.copy(head, 0);
  head.writeUInt32LE(2, 8);
  const targetNameOffset = 56;
  const targetInfoOffset = targetNameOffset + targetName.length;
  head.writeUInt16LE(targetName.length, 12);
  head.writeUInt16LE(targetName.length, 14);
  head.writeUInt32LE(targetNameOffset, 16);
  head.writeUInt32LE(flags >>> 0, 20);
  serverChallenge.copy(head, 24);
  // 32..39: Reserved
  head.writeUInt16LE(targetInfo.length, 40);
  head.writeUInt16LE(targetInfo.length, 42);
  head.writeUInt32LE(targetInfoOffset, 44);
  // Version (2.2.2.10): Windows Server 2019, NTLMSSP_REVISION_W2K3
  head.writeUInt8(10, 48);
  head.writeUInt8(0, 49);
  head.writeUInt16LE(17763, 50);
  head.writeUInt8(0x0f, 55);
  return Buffer.concat([head, targetName, targetInfo]);
}

export function newServerChallenge(): Buffer {
  return randomBytes(8);
}

/** NEGOTIATE_MESSAGE's flags (MS-NLMP 2.2.1.1). */
export function negotiateFlags(msg: Buffer): number {
  return msg.length >= 16 ? msg.readUInt32LE(12) : 0;
}

export interface AuthenticateMessage {
  lmResponse: Buffer;
  ntResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  flags: number;
}

/** AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3): security buffers (length, max length, offset) into the payload. Null: malformed. */
export function parseAuthenticateMessage(msg: Buffer): AuthenticateMessage | null {
  if (ntlmMessageType(msg) !== 3 || msg.length < 64) return null;
  const field = (at: number): Buffer | null => {
    const length = msg.readUInt16LE(at);
    const offset = msg.readUInt32LE(at + 4);
    if (offset + length > msg.length) return null;
    return msg.subarray(offset, offset + length);
  };
  const lm = field(12);
  const nt = field(20);
  const domain = field(28);
  const user = field(36);
  const workstation = field(44);
  if (!lm || !nt || !domain || !user || !workstation) return null;
  const flags = msg.readUInt32LE(60);
  // Unicode unless the client settled for OEM strings
  const str = (b: Buffer) => (flags & FLAGS.unicode ? b.toString("utf16le") : b.toString("latin1"));
  return { lmResponse: lm, ntResponse: nt, domain: str(domain), user: str(user), workstation: str(workstation), flags };
}

/** NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(Uppercase(User), UserDom))). */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  return createHmac("md5", md4(utf16(password)))
    .update(utf16(user.toUpperCase() + domain))
    .digest();
}

/**
 * Checks an NTLMv2 NtChallengeResponse (MS-NLMP 3.3.2): NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge ‖ temp),
 * where the response is NTProofStr ‖ temp. An NTLMv1 response (24 bytes) never passes.
 */
export function verifyNtlmV2(ntResponse: Buffer, serverChallenge: Buffer, password: string, user: string, domain: string): boolean {
  // 16 bytes of proof, then at least the blob's fixed part (MS-NLMP 2.2.2.7: 28 bytes before the AV pairs)
  if (ntResponse.length < 16 + 28) return false;
  const proof = ntResponse.subarray(0, 16);
  const temp = ntResponse.subarray(16);
  const expected = createHmac("md5", ntowfv2(password, user, domain))
    .update(Buffer.concat([serverChallenge, temp]))
    .digest();
  return timingSafeEqual(proof, expected);
}
