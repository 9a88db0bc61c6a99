/**
 * TCP record marking (RFC 5531 section 11): a record is one or more
 * fragments, each behind a 4-byte header whose top bit marks the last one
 * and whose other 31 bits give its length.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import { RecordTooLargeError } from '../rpc-errors.js'

/** The default {@link RecordDecoder} `maxRecordSize`: 16 MiB, as libevpl caps a record. */
export const DEFAULT_MAX_RECORD_SIZE = 16 * 1024 * 1024

const LAST_FRAGMENT = 0x8000_0000
const HEADER_BYTES = 4

/**
 * Splits a byte stream into records. A record that arrives in one fragment
 * within one chunk is a view of that chunk (no copy); one that spans chunks
 * or fragments is copied once, when it is complete. A fragment whose
 * length would take the record over `maxRecordSize` is refused as soon as
 * its header is read, before any of it is buffered.
 *
 * @example
 * ```ts
 * const decoder = new RecordDecoder()
 * for await (const chunk of request.source) for (const record of decoder.decode(chunk, [])) handle(record)
 * ```
 */
export class RecordDecoder {
  readonly #maxRecordSize: number
  /**
   * The record being read, when it is not one view of a chunk: its bytes
   * so far, copied into one buffer that doubles as it fills. (A view per
   * fragment cost about 100 bytes of heap per 5-byte fragment: a client
   * sending one-byte fragments took a server past its heap limit.)
   */
  #buffer: Uint8Array | undefined
  #partsLength = 0
  /** Bytes of the current fragment still to come; -1 while its header is being read. */
  #fragmentLeft = -1
  #lastFragment = false
  /** A header split across chunks. */
  readonly #header = new Uint8Array(HEADER_BYTES)
  #headerLength = 0

  /** @param maxRecordSize - The most bytes a record may have (its fragments' headers not counted). Default {@link DEFAULT_MAX_RECORD_SIZE}. */
  constructor(maxRecordSize = DEFAULT_MAX_RECORD_SIZE) {
    if (!Number.isInteger(maxRecordSize) || maxRecordSize < 0 || maxRecordSize > 0x7fff_ffff) {
      throw new InvalidOptionError(
        'maxRecordSize',
        `Cannot use maxRecordSize ${String(maxRecordSize)}: expected a whole number from 0 to 2^31 - 1`,
      )
    }
    this.#maxRecordSize = maxRecordSize
  }

  /** Part of a record has been read and not the rest (a stream that ends now ends inside a record). */
  get inRecord(): boolean {
    return this.#headerLength > 0 || this.#fragmentLeft >= 0 || this.#buffer !== undefined
  }

  /**
   * Reads one chunk.
   *
   * @param chunk - The next bytes of the stream.
   * @param into - Where to append the records it completes.
   * @returns `into`.
   * @throws RecordTooLargeError when a fragment takes a record over the
   *   maximum (the records before it are in `into`; the stream cannot be
   *   read further).
   */
  decode(chunk: Uint8Array, into: Uint8Array[]): Uint8Array[] {
    let at = 0
    const length = chunk.length
    while (at < length) {
      if (this.#fragmentLeft < 0) {
        // The fast path: a whole header in this chunk, none pending.
        if (this.#headerLength === 0 && length - at >= HEADER_BYTES) {
          const word =
            ((chunk[at] as number) * 0x100_0000 +
              (chunk[at + 1] as number) * 0x1_0000 +
              (chunk[at + 2] as number) * 0x100 +
              (chunk[at + 3] as number)) >>>
            0
          at += HEADER_BYTES
          this.#startFragment(word, into)
        } else {
          const take = Math.min(HEADER_BYTES - this.#headerLength, length - at)
          this.#header.set(chunk.subarray(at, at + take), this.#headerLength)
          this.#headerLength += take
          at += take
          if (this.#headerLength < HEADER_BYTES) break
          this.#headerLength = 0
          const h = this.#header
          this.#startFragment(
            (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>> 0,
            into,
          )
        }
        continue
      }
      const take = Math.min(this.#fragmentLeft, length - at)
      // A whole one-fragment record inside this chunk: hand out a view.
      if (this.#lastFragment && take === this.#fragmentLeft && this.#buffer === undefined) {
        into.push(chunk.subarray(at, at + take))
        at += take
        this.#fragmentLeft = -1
        continue
      }
      this.#append(chunk.subarray(at, at + take))
      this.#fragmentLeft -= take
      at += take
      if (this.#fragmentLeft === 0) this.#endFragment(into)
    }
    return into
  }

  #startFragment(word: number, into: Uint8Array[]): void {
    const fragmentLength = word & 0x7fff_ffff
    this.#lastFragment = (word & LAST_FRAGMENT) !== 0
    if (this.#partsLength + fragmentLength > this.#maxRecordSize) {
      throw new RecordTooLargeError(this.#partsLength + fragmentLength, this.#maxRecordSize)
    }
    this.#fragmentLeft = fragmentLength
    if (fragmentLength === 0) this.#endFragment(into)
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#partsLength + bytes.length
    if (this.#buffer === undefined || needed > this.#buffer.length) {
      let size = Math.max(256, (this.#buffer?.length ?? 0) * 2)
      while (size < needed) size *= 2
      const grown = Buffer.allocUnsafe(Math.min(size, Math.max(needed, this.#maxRecordSize)))
      if (this.#buffer !== undefined) grown.set(this.#buffer.subarray(0, this.#partsLength))
      this.#buffer = grown
    }
    this.#buffer.set(bytes, this.#partsLength)
    this.#partsLength = needed
  }

  #endFragment(into: Uint8Array[]): void {
    this.#fragmentLeft = -1
    if (!this.#lastFragment) {
      // A record of several fragments is joined in the buffer (an empty first fragment starts it too).
      if (this.#buffer === undefined) this.#append(new Uint8Array(0))
      return
    }
    into.push(this.#buffer === undefined ? new Uint8Array(0) : this.#buffer.subarray(0, this.#partsLength))
    this.#buffer = undefined
    this.#partsLength = 0
  }
}

/**
 * Prepends a record mark to a record sent in one fragment.
 *
 * @param record - The record's bytes (at most 2^31 - 1).
 * @returns The header and the record, as one new Buffer.
 */
export function markRecord(record: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(HEADER_BYTES + record.length)
  framed.set(record, HEADER_BYTES)
  setRecordMark(framed)
  return framed
}

/**
 * Writes the record mark of a one-fragment record into the first 4 bytes of
 * `framed`, which were left for it: the record is the rest (a reply or a
 * call encoded after 4 reserved bytes, so it needs no copy).
 *
 * @internal
 */
export function setRecordMark(framed: Uint8Array): void {
  const mark = (LAST_FRAGMENT | (framed.length - HEADER_BYTES)) >>> 0
  framed[0] = mark >>> 24
  framed[1] = mark >>> 16
  framed[2] = mark >>> 8
  framed[3] = mark
}
