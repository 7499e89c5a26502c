import { createHmac, randomBytes } from "node:crypto";
import { md4 } from "./md4.js";

/**
 * The client half of NTLM over HTTP (MS-NLMP), NTLMv2 only: on-premises Exchange still offers
 * NTLM where Basic is off and Kerberos is out of reach. The caller carries the messages in the
 * `Authorization: NTLM …` / `WWW-Authenticate: NTLM …` headers on one kept-alive connection.
 *
 * No session key and no MIC: EWS over HTTPS neither signs nor seals, and a server expects a MIC
 * only when the NT response's AV pairs carry MsvAvFlags with bit 0x2. We echo the server's
 * TargetInfo unchanged and add no MsvAvFlags, so Exchange's IIS accepts the message without one.
 */

export interface NtlmChallenge {
  flags: number;
  serverChallenge: Buffer;
  targetName: string;
  /** The raw AV pairs, echoed into the NTLMv2 response. */
  targetInfo: Buffer;
  /** The server's MsvAvTimestamp (a FILETIME), or null when it sent none. */
  timestamp: Buffer | null;
}

export interface NtlmCredentials {
  user: string;
  domain: string;
  password: string;
  workstation?: string;
}

/** Fixed inputs, for tests: both are random or the current time otherwise. */
export interface NtlmAuthenticateOptions {
  clientChallenge?: Buffer;
  timestamp?: Buffer;
}

// NegotiateFlags bits, MS-NLMP 2.2.2.5
const NEGOTIATE_UNICODE = 0x00000001;
const REQUEST_TARGET = 0x00000004;
const NEGOTIATE_NTLM = 0x00000200;
const NEGOTIATE_ALWAYS_SIGN = 0x00008000;
const NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000;
const NEGOTIATE_TARGET_INFO = 0x00800000;
const NEGOTIATE_VERSION = 0x02000000;
const NEGOTIATE_128 = 0x20000000;
const NEGOTIATE_56 = 0x80000000;

/** 0xa2088205. `>>> 0` because bit 31 makes the bitwise OR negative. */
const negotiateFlags =
  (NEGOTIATE_UNICODE |
    REQUEST_TARGET |
    NEGOTIATE_NTLM |
    NEGOTIATE_ALWAYS_SIGN |
    NEGOTIATE_EXTENDED_SESSIONSECURITY |
    NEGOTIATE_128 |
    NEGOTIATE_56 |
    NEGOTIATE_VERSION) >>>
  0;

// AvId values, MS-NLMP 2.2.2.1
const MSV_AV_EOL = 0;
const MSV_AV_TIMESTAMP = 7;

const signature = Buffer.from("NTLMSSP\0", "latin1");

/**
 * The VERSION structure (MS-NLMP 2.2.2.10) is for debugging only and not processed: we claim no
 * Windows version, just the current NTLMSSP revision (15).
 */
const version = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x0f]);

/** The NEGOTIATE_MESSAGE (type 1), base64 for the Authorization header. */
export function ntlmNegotiate(): string {
  const message = Buffer.alloc(40);
  signature.copy(message, 0);
  message.writeUInt32LE(1, 8);
  message.writeUInt32LE(negotiateFlags, 12);
  // no domain or workstation: empty fields that point where their payload would start (2.2.1.1)
  writeField(message, 16, 0, 40);
  writeField(message, 24, 0, 40);
  version.copy(message, 32);
  return message.toString("base64");
}

/** Reads the CHALLENGE_MESSAGE (type 2) from the WWW-Authenticate header's base64. */
export function parseChallenge(base64: string): NtlmChallenge {
  const text = base64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw malformed("it is not base64");
  const message = Buffer.from(text, "base64");
  if (message.length < 32) throw malformed(`it is ${message.length} bytes long, shorter than the 32-byte header`);
  if (!message.subarray(0, 8).equals(signature)) throw malformed("it does not start with the NTLMSSP signature");
  const type = message.readUInt32LE(8);
  if (type !== 2) throw malformed(`it is message type ${type}, not 2 (CHALLENGE_MESSAGE)`);

  const flags = message.readUInt32LE(20);
  const name = payload(message, 12, "TargetName");
  // OEM strings are in the server's code page; target names are ASCII in practice
  const targetName = flags & NEGOTIATE_UNICODE ? name.toString("utf16le") : name.toString("latin1");

  let targetInfo = Buffer.alloc(0);
  if (flags & NEGOTIATE_TARGET_INFO) {
    if (message.length < 48) throw malformed("it announces TargetInfo but ends before the TargetInfo field");
    targetInfo = Buffer.from(payload(message, 40, "TargetInfo"));
  }

  return {
    flags,
    serverChallenge: Buffer.from(message.subarray(24, 32)),
    targetName,
    targetInfo,
    timestamp: avTimestamp(targetInfo),
  };
}

/** The AUTHENTICATE_MESSAGE (type 3) with the NTLMv2 response (MS-NLMP 3.1.5.1.2, 3.3.2). */
export function ntlmAuthenticate(challenge: NtlmChallenge, credentials: NtlmCredentials, options: NtlmAuthenticateOptions = {}): string {
  const clientChallenge = options.clientChallenge ?? randomBytes(8);
  const timestamp = options.timestamp ?? challenge.timestamp ?? filetime(Date.now());
  if (clientChallenge.length !== 8) throw new Error(`NTLM: the client challenge must be 8 bytes, not ${clientChallenge.length}`);
  if (timestamp.length !== 8) throw new Error(`NTLM: the timestamp must be an 8-byte FILETIME, not ${timestamp.length} bytes`);

  const key = ntowfv2(credentials.password, credentials.user, credentials.domain);
  const temp = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]),
    timestamp,
    clientChallenge,
    Buffer.alloc(4),
    challenge.targetInfo,
    Buffer.alloc(4),
  ]);
  const ntResponse = Buffer.concat([hmacMd5(key, challenge.serverChallenge, temp), temp]);
  // With a server timestamp the client SHOULD send Z(24) instead of the LMv2 response (3.1.5.1.2)
  const lmResponse =
    challenge.timestamp !== null
      ? Buffer.alloc(24)
      : Buffer.concat([hmacMd5(key, challenge.serverChallenge, clientChallenge), clientChallenge]);

  // What both sides chose, and Unicode always: the strings below are UTF-16LE whatever the server picked
  const flags = ((challenge.flags & (negotiateFlags | NEGOTIATE_TARGET_INFO)) | NEGOTIATE_UNICODE) >>> 0;
  const headerLength = flags & NEGOTIATE_VERSION ? 72 : 64;
  // LM, NT, domain, user, workstation, then the (empty) EncryptedRandomSessionKey: the order of the fields
  const fields = [
    lmResponse,
    ntResponse,
    utf16(credentials.domain),
    utf16(credentials.user),
    utf16(credentials.workstation ?? ""),
    Buffer.alloc(0),
  ];

  const header = Buffer.alloc(headerLength);
  signature.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let offset = headerLength;
  fields.forEach((data, i) => {
    writeField(header, 12 + 8 * i, data.length, offset);
    offset += data.length;
  });
  header.writeUInt32LE(flags, 60);
  if (flags & NEGOTIATE_VERSION) version.copy(header, 64);
  return Buffer.concat([header, ...fields]).toString("base64");
}

/** NTOWFv2 (MS-NLMP 3.3.2), the ResponseKeyNT: HMAC_MD5(MD4(UTF16LE(password)), UTF16LE(UPPER(user) + domain)). */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(md4(utf16(password)), utf16(upcase(user) + domain));
}

/**
 * Splits a login into NTLM's user and domain: "DOMAIN\user" carries its domain; a UPN
 * ("user@example.com") goes whole with an empty domain, as Windows sends it, for the domain
 * controller to resolve; a bare name has no domain.
 */
export function ntlmUser(login: string): { user: string; domain: string } {
  const slash = login.indexOf("\\");
  if (slash < 0) return { user: login, domain: "" };
  return { user: login.slice(slash + 1), domain: login.slice(0, slash) };
}

function malformed(reason: string): Error {
  return new Error(`Malformed NTLM challenge: ${reason}`);
}

/** A security buffer's bytes (2.2.1: Len, MaxLen, Offset), checked to lie inside the message. */
function payload(message: Buffer, at: number, name: string): Buffer {
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  // an empty field's offset means nothing, and some servers leave it past the end
  if (length === 0) return Buffer.alloc(0);
  if (offset + length > message.length) {
    throw malformed(`${name} (${length} bytes at offset ${offset}) lies outside the ${message.length}-byte message`);
  }
  return message.subarray(offset, offset + length);
}

function writeField(header: Buffer, at: number, length: number, offset: number): void {
  if (length > 0xffff) throw new Error(`NTLM: a ${length}-byte field does not fit a security buffer`);
  header.writeUInt16LE(length, at);
  header.writeUInt16LE(length, at + 2);
  header.writeUInt32LE(offset, at + 4);
}

/** The MsvAvTimestamp among the AV pairs, after checking that every pair lies inside them. */
function avTimestamp(targetInfo: Buffer): Buffer | null {
  let timestamp: Buffer | null = null;
  let at = 0;
  while (at + 4 <= targetInfo.length) {
    const id = targetInfo.readUInt16LE(at);
    const length = targetInfo.readUInt16LE(at + 2);
    const value = at + 4;
    if (value + length > targetInfo.length) {
      throw malformed(`AV pair ${id} (${length} bytes at ${value}) runs past the end of the ${targetInfo.length}-byte TargetInfo`);
    }
    if (id === MSV_AV_EOL) return timestamp;
    if (id === MSV_AV_TIMESTAMP) {
      if (length !== 8) throw malformed(`MsvAvTimestamp is ${length} bytes, not 8`);
      timestamp = Buffer.from(targetInfo.subarray(value, value + 8));
    }
    at = value + length;
  }
  if (targetInfo.length > 0) throw malformed("TargetInfo does not end with MsvAvEOL");
  return null;
}

function hmacMd5(key: Buffer, ...data: Buffer[]): Buffer {
  const hmac = createHmac("md5", key);
  for (const part of data) hmac.update(part);
  return hmac.digest();
}

function utf16(text: string): Buffer {
  return Buffer.from(text, "utf16le");
}

/**
 * Windows upper-cases the user name one UTF-16 unit at a time, so a letter whose capital is longer
 * ("ß" → "SS") stays as it is, and so do surrogate pairs; `toUpperCase` alone would change them.
 */
function upcase(text: string): string {
  let result = "";
  for (let i = 0; i < text.length; i++) {
    const unit = text.charAt(i);
    const upper = unit.toUpperCase();
    result += upper.length === 1 ? upper : unit;
  }
  return result;
}

/** A FILETIME: 100-nanosecond ticks since 1601-01-01, little-endian. */
function filetime(epochMs: number): Buffer {
  const ticks = (BigInt(epochMs) + 11_644_473_600_000n) * 10_000n;
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(ticks);
  return buffer;
}
