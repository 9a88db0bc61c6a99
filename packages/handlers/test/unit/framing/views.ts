// Whether a decoded frame is a view of a chunk's memory or a copy. Small
// Buffers share Node's pool, so the same ArrayBuffer alone proves nothing:
// the frame's bytes must lie inside the chunk's.
export function isViewOf(frame: Uint8Array, chunk: Uint8Array): boolean {
  return (
    frame.buffer === chunk.buffer &&
    frame.byteOffset >= chunk.byteOffset &&
    frame.byteOffset + frame.length <= chunk.byteOffset + chunk.length
  )
}
