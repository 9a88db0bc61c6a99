// Inputs for the BufferedReader property tests: bytes split into chunks.
import fc from 'fast-check'

/** Splits `bytes` at the given cut points into chunks (empty ones included). */
export function chunksOf(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let at = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(at, point))
    at = point
  }
  return chunks
}

/** The chunks as a plain async iterator. */
export async function* stream(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk
}

/** Up to 300 bytes, about one in seven a newline. */
export const bytesWithNewlines = fc.uint8Array({ maxLength: 300 }).map((bytes) => bytes.map((byte) => (byte % 7 === 0 ? 0x0a : byte)))
