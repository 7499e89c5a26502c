/**
 * The bytes as a Buffer, without copying. Structured cloning (worker threads, child processes with
 * advanced serialization) turns Buffers into plain Uint8Arrays; the rest of Mailroom, and
 * better-sqlite3, expect Buffers.
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
