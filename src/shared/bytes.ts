/**
 * The bytes as a Buffer, without copying. Structured cloning (worker threads, child processes with
 * advanced serialization) turns Buffers into plain Uint8Arrays; the rest of Mailroom, and
 * better-sqlite3, expect Buffers.
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Whether the bytes from `from` on are only spaces, tabs and line breaks (or none). */
export function isBlank(bytes: Uint8Array, from = 0): boolean {
  for (let i = from; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) return false;
  }
  return true;
}
