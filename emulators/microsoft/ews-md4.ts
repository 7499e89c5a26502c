/**
 * MD4 (RFC 1320), which NTLM's NT hash is made of. Node 20's OpenSSL 3 keeps MD4 in its legacy provider, which Node
 * does not load, so createHash("md4") throws: the emulator carries its own. Only for NTLM; nothing else should use MD4.
 */

const ROUND2 = 0x5a827999;
const ROUND3 = 0x6ed9eba1;
const ORDER2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
const ORDER3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
const SHIFTS = [
  [3, 7, 11, 19],
  [3, 5, 9, 13],
  [3, 9, 11, 15],
] as const;
// the register each step of a round updates, in turn: a, d, c, b (RFC 1320 §3.4)
const TARGET = [0, 3, 2, 1];

const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
const f = (x: number, y: number, z: number) => ((x & y) | (~x & z)) >>> 0;
const g = (x: number, y: number, z: number) => ((x & y) | (x & z) | (y & z)) >>> 0;
const h = (x: number, y: number, z: number) => (x ^ y ^ z) >>> 0;

export function md4(data: Buffer): Buffer {
  // padding: a 1 bit, zeros to 56 mod 64 bytes, then the length in bits as 64 bits little-endian
  const total = Math.ceil((data.length + 9) / 64) * 64;
  const buf = Buffer.alloc(total);
  data.copy(buf);
  buf[data.length] = 0x80;
  buf.writeUInt32LE((data.length * 8) >>> 0, total - 8);
  buf.writeUInt32LE(Math.floor(data.length / 0x20000000) >>> 0, total - 4);

  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const x = new Array<number>(16);
  for (let block = 0; block < total; block += 64) {
    for (let i = 0; i < 16; i++) x[i] = buf.readUInt32LE(block + i * 4);
    const v = [...state] as [number, number, number, number];
    const rounds: [(a: number, b: number, c: number) => number, number, (i: number) => number][] = [
      [f, 0, (i) => i],
      [g, ROUND2, (i) => ORDER2[i] as number],
      [h, ROUND3, (i) => ORDER3[i] as number],
    ];
    rounds.forEach(([fn, constant, word], r) => {
      for (let i = 0; i < 16; i++) {
        const t = TARGET[i % 4] as number;
        const sum = (v[t] as number) + fn(v[(t + 1) % 4] as number, v[(t + 2) % 4] as number, v[(t + 3) % 4] as number) + (x[word(i)] as number) + constant;
        v[t] = rotl(sum >>> 0, SHIFTS[r]?.[i % 4] as number);
      }
    });
    for (let i = 0; i < 4; i++) state[i] = ((state[i] as number) + (v[i] as number)) >>> 0;
  }
  const out = Buffer.alloc(16);
  state.forEach((word, i) => out.writeUInt32LE(word, i * 4));
  return out;
}
