/**
 * Splits a byte stream into length-prefixed frames, chunk by chunk, with no
 * promise at all.
 *
 * @module
 */

import { FrameTooLargeError, IncompleteFrameError, MalformedFrameError } from '../errors.js'
import { type CheckedLengthPrefixedOptions, checkLengthPrefixedOptions, hex, type LengthPrefixedOptions } from './length-prefix.js'
import { MAX_VARINT_BYTES, VARINT_WEIGHTS } from './varint.js'

const EMPTY: Buffer = Buffer.alloc(0)

/**
 * Decodes length-prefixed frames from chunks as they arrive: each call to
 * `decode()` hands out every frame the chunk completes, synchronously. The
 * async forms ({@link lengthPrefixedFrames}, {@link lengthPrefixedBatches},
 * {@link decodeLengthPrefixed}) are built on it; use it directly to decode
 * from `'data'` events or any other push source.
 *
 * A frame that lies within one chunk is handed out as a view of that chunk
 * (`subarray`, no copy), so a source must not reuse a chunk's memory (a
 * socket's chunks are fresh Buffers); so is one whose bytes all come in
 * the chunk after its prefix. A frame that spans chunks is copied once,
 * into a Buffer of its exact length allocated when its first bytes come.
 * Each prefix is checked against `maxFrameSize` before anything else, so
 * the memory held between chunks is at most one frame of that size.
 *
 * An error (`MalformedFrameError`, `FrameTooLargeError`) fails the decoder:
 * the stream is out of step, so later calls throw the same error. Python
 * counterpart: none in socketserver (handlers read a prefix, then
 * `rfile.read(n)`).
 *
 * @example
 * ```ts
 * const decoder = new LengthPrefixedDecoder({ prefix: 'uint16be', maxFrameSize: 1024 })
 * socket.on('data', (chunk) => { for (const frame of decoder.decode(chunk)) handle(frame) })
 * socket.on('end', () => decoder.end()) // throws IncompleteFrameError if cut inside a frame
 * ```
 */
export class LengthPrefixedDecoder {
  readonly #options: CheckedLengthPrefixedOptions
  /** The prefix bytes of the unfinished frame, kept for errors and for a prefix split between chunks. */
  readonly #prefixBytes = Buffer.alloc(MAX_VARINT_BYTES)
  #prefixSeen = 0
  /** The length being read from a prefix split between chunks. */
  #length = 0
  /** The length of the frame whose prefix was read and whose bytes are awaited, or -1 (reading a prefix). */
  #bodyLength = -1
  /** That frame, once some of its bytes came: allocated whole, filled as chunks arrive. */
  #frame: Buffer | undefined
  #filled = 0
  #failure: Error | undefined

  /**
   * @param options - `prefix` (default `'varint'`) and `maxFrameSize`
   *   (default {@link DEFAULT_MAX_FRAME_SIZE}).
   * @throws InvalidOptionError for an unknown `prefix` or a `maxFrameSize`
   *   that is not a whole number of 0 or more.
   */
  constructor(options?: LengthPrefixedOptions) {
    this.#options = checkLengthPrefixedOptions(options)
  }

  /** Bytes received of the unfinished frame, its prefix included (0 between frames). */
  get buffered(): number {
    return this.#prefixSeen + this.#filled
  }

  /** Whether part of a frame has come and the rest has not (a server's stop then waits for the rest). */
  get inFrame(): boolean {
    return this.buffered > 0
  }

  /**
   * Decodes one chunk.
   *
   * @param chunk - The next bytes of the stream.
   * @param into - Where the frames go (a new array by default).
   * @returns `into`, with every frame the chunk completed appended in order.
   * @throws FrameTooLargeError when a prefix announces more than
   *   `maxFrameSize` bytes; MalformedFrameError for a varint prefix that
   *   does not end within 8 bytes, is not in its shortest form or says more
   *   than 2^53 - 1. `into` then holds the frames before the bad one.
   */
  decode(chunk: Uint8Array, into: Buffer[] = []): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const end = bytes.length
    let at = 0
    if (this.#bodyLength !== -1) {
      at = this.#continueFrame(bytes, into)
      if (this.#bodyLength !== -1) return into
    }
    const { size, kind } = this.#options.prefix
    const limit = this.#options.maxFrameSize
    while (at < end) {
      const start = at
      let length: number
      // Fast paths: a whole prefix in this chunk, none of it seen before.
      if (this.#prefixSeen === 0 && kind === 'varint' && (bytes[at] as number) < 0x80) {
        length = bytes[at++] as number
      } else if (this.#prefixSeen === 0 && size !== 0 && end - at >= size) {
        length = size === 1 ? (bytes[at] as number) : size === 2 ? bytes.readUInt16BE(at) : bytes.readUInt32BE(at)
        at += size
      } else {
        const next = kind === 'varint' ? this.#readVarint(bytes, at) : this.#readFixed(bytes, at, size)
        if (next === -1) return into // the prefix goes on in the next chunk
        at = next
        length = this.#length
        this.#length = 0
      }
      if (length > limit) {
        throw this.#fail(
          new FrameTooLargeError(`Cannot read a frame: its length prefix says ${length} bytes, more than maxFrameSize ${limit}`, {
            size: length,
            limit,
          }),
        )
      }
      if (end - at >= length) {
        into.push(length === 0 ? EMPTY : bytes.subarray(at, at + length))
        at += length
        this.#prefixSeen = 0
        continue
      }
      // The frame goes on in the next chunk: keep its prefix (for an
      // IncompleteFrameError) and what came of it.
      if (this.#prefixSeen === 0) {
        bytes.copy(this.#prefixBytes, 0, start, at)
        this.#prefixSeen = at - start
      }
      this.#bodyLength = length
      if (at < end) this.#continueFrame(bytes.subarray(at), into)
      return into
    }
    return into
  }

  /**
   * Ends the stream.
   *
   * @param into - Where frames go (none are left at the end; kept so that
   *   every decoder ends the same way).
   * @returns `into`.
   * @throws IncompleteFrameError when the stream ended inside a prefix or a
   *   frame, saying how many bytes of how many came; the decoder's error if
   *   it failed.
   */
  end(into: Buffer[] = []): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#prefixSeen === 0) return into
    const { kind, size } = this.#options.prefix
    const prefix = Buffer.from(this.#prefixBytes.subarray(0, this.#prefixSeen))
    const expected = this.#bodyLength
    if (expected !== -1) {
      throw this.#fail(
        new IncompleteFrameError(`Cannot read a frame: the stream ended after ${this.#filled} of its ${expected} bytes`, {
          expected,
          prefix,
          partial: this.#frame === undefined ? EMPTY : this.#frame.subarray(0, this.#filled),
        }),
      )
    }
    const where =
      kind === 'varint'
        ? `inside its varint length prefix, after ${prefix.length === 1 ? '1 byte' : `${prefix.length} bytes`} (${hex(prefix)})`
        : `after ${prefix.length} of the ${size} bytes of its ${kind} length prefix (${hex(prefix)})`
    throw this.#fail(
      new IncompleteFrameError(`Cannot read a frame: the stream ended ${where}`, { expected: undefined, prefix, partial: EMPTY }),
    )
  }

  /**
   * Takes the bytes of the awaited frame from the start of `bytes`: a view
   * when they are all there and none came before, else a copy into the
   * frame's own Buffer. Returns the offset after what it took.
   */
  #continueFrame(bytes: Buffer, into: Buffer[]): number {
    const length = this.#bodyLength
    let frame = this.#frame
    if (frame === undefined) {
      if (bytes.length >= length) {
        into.push(bytes.subarray(0, length))
        this.#endFrame()
        return length
      }
      // allocUnsafe: a large frame's pages are touched only as its bytes
      // arrive, so a peer that announces maxFrameSize and stalls costs
      // little more than what it sent.
      frame = Buffer.allocUnsafe(length)
      this.#frame = frame
    }
    const taken = Math.min(length - this.#filled, bytes.length)
    bytes.copy(frame, this.#filled, 0, taken)
    this.#filled += taken
    if (this.#filled === length) {
      into.push(frame)
      this.#endFrame()
    }
    return taken
  }

  #endFrame(): void {
    this.#frame = undefined
    this.#filled = 0
    this.#bodyLength = -1
    this.#prefixSeen = 0
  }

  /** Reads varint bytes from `from`: the offset after the varint (its value in #length), or -1 when the chunk ran out first. */
  #readVarint(bytes: Buffer, from: number): number {
    let at = from
    const end = bytes.length
    while (at < end) {
      const byte = bytes[at++] as number
      const index = this.#prefixSeen++
      this.#prefixBytes[index] = byte
      this.#length += (byte & 0x7f) * (VARINT_WEIGHTS[index] as number)
      if (byte < 0x80) {
        if (index > 0 && byte === 0) throw this.#malformed('is not in its shortest form')
        if (this.#length > Number.MAX_SAFE_INTEGER) throw this.#malformed(`says ${this.#length} bytes, more than 2^53 - 1`)
        return at
      }
      if (index + 1 === MAX_VARINT_BYTES) throw this.#malformed(`does not end within ${MAX_VARINT_BYTES} bytes`)
    }
    return -1
  }

  /** Reads the bytes of a fixed prefix split between chunks: the offset after it (its value in #length), or -1. */
  #readFixed(bytes: Buffer, from: number, size: number): number {
    let at = from
    while (at < bytes.length && this.#prefixSeen < size) {
      const byte = bytes[at++] as number
      this.#prefixBytes[this.#prefixSeen++] = byte
      this.#length = this.#length * 0x100 + byte
    }
    return this.#prefixSeen === size ? at : -1
  }

  #malformed(problem: string): MalformedFrameError {
    const bytes = Buffer.from(this.#prefixBytes.subarray(0, this.#prefixSeen))
    return this.#fail(new MalformedFrameError(`Cannot read a frame: its varint length prefix (${hex(bytes)}) ${problem}`, bytes))
  }

  #fail<E extends Error>(error: E): E {
    this.#failure = error
    this.#frame = undefined
    return error
  }
}
