/**
 * Writing XDR's big-endian 4-byte units into a buffer that grows.
 *
 * @module
 */

/** Appends XDR units to a buffer, doubling it as needed. */
export class XdrWriter {
  #bytes: Uint8Array
  /** Made on the first 64-bit or floating-point value: most messages are 32-bit words, written byte by byte. */
  #view: DataView | undefined
  #length = 0

  /**
   * @param capacity - The first buffer's size in bytes. Default 256.
   *
   * The buffer comes from Node's pool (`Buffer.allocUnsafe`: under 4 KiB, a
   * slice of a shared 8 KiB block) rather than a zero-filled ArrayBuffer of
   * its own: a reply per call made thousands of small ArrayBuffers a second
   * for the collector. Every byte of the result is written (padding too).
   */
  constructor(capacity = 256) {
    this.#bytes = Buffer.allocUnsafe(Math.max(8, capacity))
  }

  /** A DataView of the buffer, for the 64-bit and floating-point writes. */
  #dataView(): DataView {
    this.#view ??= new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength)
    return this.#view
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length
  }

  /** What was written, as a view of the buffer (valid until the next write; a Buffer, from Node's pool). */
  result(): Uint8Array {
    return this.#bytes.subarray(0, this.#length)
  }

  #room(count: number): void {
    if (this.#length + count <= this.#bytes.length) return
    let size = this.#bytes.length * 2
    while (size < this.#length + count) size *= 2
    const grown = Buffer.allocUnsafe(size)
    grown.set(this.#bytes.subarray(0, this.#length))
    this.#bytes = grown
    this.#view = undefined
  }

  /** A signed 32-bit integer (checked by the type). */
  int32(value: number): void {
    this.uint32(value >>> 0)
  }

  /** An unsigned 32-bit integer (checked by the type). */
  uint32(value: number): void {
    this.#room(4)
    const bytes = this.#bytes
    const at = this.#length
    bytes[at] = value >>> 24
    bytes[at + 1] = value >>> 16
    bytes[at + 2] = value >>> 8
    bytes[at + 3] = value
    this.#length = at + 4
  }

  /** A signed 64-bit integer. */
  int64(value: bigint): void {
    this.#room(8)
    this.#dataView().setBigInt64(this.#length, value)
    this.#length += 8
  }

  /** An unsigned 64-bit integer. */
  uint64(value: bigint): void {
    this.#room(8)
    this.#dataView().setBigUint64(this.#length, value)
    this.#length += 8
  }

  /** An IEEE single. */
  float32(value: number): void {
    this.#room(4)
    this.#dataView().setFloat32(this.#length, value)
    this.#length += 4
  }

  /** An IEEE double. */
  float64(value: number): void {
    this.#room(8)
    this.#dataView().setFloat64(this.#length, value)
    this.#length += 8
  }

  /** `data` and zero padding to a multiple of 4. */
  bytes(data: Uint8Array): void {
    const padded = data.length + ((4 - (data.length % 4)) % 4)
    this.#room(padded)
    this.#bytes.set(data, this.#length)
    this.#bytes.fill(0, this.#length + data.length, this.#length + padded)
    this.#length += padded
  }
}
