/**
 * MD4 (RFC 1320). NTLM derives the NT hash with it, and the OpenSSL 3 inside Node 20 ships MD4
 * only in its legacy provider, so `createHash("md4")` throws. MD4 is broken as a general hash:
 * use it for NTLM only.
 */
export function md4(data: Buffer): Buffer {
  const message = pad(data);
  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;

  for (let block = 0; block < message.length; block += 64) {
    const x = (k: number): number => message.readUInt32LE(block + 4 * k);
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;

    // Each round runs four groups of the RFC's four operations, [abcd], [dabc], [cdab], [bcda];
    // only the word order and the shifts differ between rounds.
    for (let j = 0; j < 4; j++) {
      a = rotl(a + f(b, c, d) + x(4 * j), 3);
      d = rotl(d + f(a, b, c) + x(4 * j + 1), 7);
      c = rotl(c + f(d, a, b) + x(4 * j + 2), 11);
      b = rotl(b + f(c, d, a) + x(4 * j + 3), 19);
    }
    for (let j = 0; j < 4; j++) {
      a = rotl(a + g(b, c, d) + x(j) + 0x5a827999, 3);
      d = rotl(d + g(a, b, c) + x(j + 4) + 0x5a827999, 5);
      c = rotl(c + g(d, a, b) + x(j + 8) + 0x5a827999, 9);
      b = rotl(b + g(c, d, a) + x(j + 12) + 0x5a827999, 13);
    }
    // Round 3 takes the words in bit-reversed order: 0 8 4 12, 2 10 6 14, 1 9 5 13, 3 11 7 15.
    for (const j of [0, 2, 1, 3]) {
      a = rotl(a + h(b, c, d) + x(j) + 0x6ed9eba1, 3);
      d = rotl(d + h(a, b, c) + x(j + 8) + 0x6ed9eba1, 9);
      c = rotl(c + h(d, a, b) + x(j + 4) + 0x6ed9eba1, 11);
      b = rotl(b + h(c, d, a) + x(j + 12) + 0x6ed9eba1, 15);
    }

    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
  }

  const digest = Buffer.alloc(16);
  digest.writeUInt32LE(h0, 0);
  digest.writeUInt32LE(h1, 4);
  digest.writeUInt32LE(h2, 8);
  digest.writeUInt32LE(h3, 12);
  return digest;
}

/** A 1 bit, zeros up to 56 mod 64 bytes, then the length in bits as a 64-bit little-endian word. */
function pad(data: Buffer): Buffer {
  const length = Math.ceil((data.length + 9) / 64) * 64;
  const message = Buffer.alloc(length);
  data.copy(message);
  message[data.length] = 0x80;
  // BigInt because the bit length of an input over 512 MiB no longer fits in 32 bits
  message.writeBigUInt64LE(BigInt(data.length) * 8n, length - 8);
  return message;
}

// The sums passed in may exceed 32 bits; the shift operators reduce them modulo 2^32.
const rotl = (v: number, s: number): number => (v << s) | (v >>> (32 - s));
const f = (x: number, y: number, z: number): number => (x & y) | (~x & z);
const g = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z);
const h = (x: number, y: number, z: number): number => x ^ y ^ z;
