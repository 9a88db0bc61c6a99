/**
 * Reading XDR's big-endian 4-byte units from bytes, never past their end.
 *
 * @module
 */

import { XdrError } from './xdr-error.js'

/** Reads XDR units from `bytes`, from `offset` on; every read checks what is left. */
export class XdrReader {
  readonly #bytes: Uint8Array
  /** Made on the first 64-bit or floating-point read: 32-bit words are read byte by byte (no DataView per message). */
  #view: DataView | undefined
  #offset: number

  /**
   * @param bytes - The encoded bytes.
   * @param offset - Where the first value starts. Default 0.
   */
  constructor(bytes: Uint8Array, offset = 0) {
    this.#bytes = bytes
    this.#offset = offset
  }

  #dataView(): DataView {
    this.#view ??= new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength)
    return this.#view
  }

  /** Where the next read starts. */
  get offset(): number {
    return this.#offset
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset
  }

  /** Makes sure `count` bytes are left, for `what` (named in the error). */
  need(count: number, what: string): void {
    if (count > this.remaining) throw new XdrError(`Cannot decode ${what}: ${this.remaining} bytes left, ${count} needed`)
  }

  /** A signed 32-bit integer. */
  int32(what = 'int'): number {
    return this.uint32(what) | 0
  }

  /** An unsigned 32-bit integer. */
  uint32(what = 'unsigned int'): number {
    const at = this.#offset
    const bytes = this.#bytes
    if (at + 4 > bytes.length) this.need(4, what)
    this.#offset = at + 4
    return (
      (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>>
      0
    )
  }

  /** A signed 64-bit integer. */
  int64(what = 'hyper'): bigint {
    this.need(8, what)
    const value = this.#dataView().getBigInt64(this.#offset)
    this.#offset += 8
    return value
  }

  /** An unsigned 64-bit integer. */
  uint64(what = 'unsigned hyper'): bigint {
    this.need(8, what)
    const value = this.#dataView().getBigUint64(this.#offset)
    this.#offset += 8
    return value
  }

  /** An IEEE single. */
  float32(): number {
    this.need(4, 'float')
    const value = this.#dataView().getFloat32(this.#offset)
    this.#offset += 4
    return value
  }

  /** An IEEE double. */
  float64(): number {
    this.need(8, 'double')
    const value = this.#dataView().getFloat64(this.#offset)
    this.#offset += 8
    return value
  }

  /**
   * `length` bytes and their padding to a multiple of 4 (which must be
   * zero), as a view into the input (copy it to keep it past the input).
   */
  bytes(length: number, what: string): Uint8Array {
    // Arithmetic, not `& ~3`: a length near 2^32 overflows 32-bit bitwise operations.
    const padded = length + ((4 - (length % 4)) % 4)
    this.need(padded, what)
    const start = this.#offset
    for (let at = start + length; at < start + padded; at++) {
      if (this.#bytes[at] !== 0) throw new XdrError(`Cannot decode ${what}: its padding is not zero`)
    }
    this.#offset += padded
    return this.#bytes.subarray(start, start + length)
  }
}
