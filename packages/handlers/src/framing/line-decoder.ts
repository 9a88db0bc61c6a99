/**
 * Splits a byte stream into lines, chunk by chunk, with no promise at all.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import { DEFAULT_MAX_LINE_LENGTH } from '../buffered-reader.js'
import { LineTooLongError } from '../errors.js'

const NEWLINE = 0x0a

/**
 * Parts of an unfinished line held as views of their chunks; past this
 * many, they are copied into one growing buffer. A line that spans a few
 * chunks is copied once, when it ends; one sent a few bytes per chunk does
 * not cost one view per chunk (a 64 KiB line sent byte by byte would hold
 * 65,536 views of about 100 bytes each).
 */
const MAX_HELD_PARTS = 16

/** Options of {@link LineDecoder} and of the line decoders built on it. */
export interface LineDecoderOptions {
  /**
   * The most bytes a line may have, its newline included (as for
   * `readline()`). Default {@link DEFAULT_MAX_LINE_LENGTH} (64 KiB);
   * `Infinity` removes the limit, and with it the bound on memory.
   */
  maxLength?: number
  /**
   * What an over-long line does: `'throw'` (the default) throws
   * `LineTooLongError` and fails the decoder; `'skip'` drops the line,
   * through its newline, and goes on with the next one.
   */
  tooLong?: 'throw' | 'skip'
}

/**
 * Decodes `\n`-terminated lines from chunks as they arrive: each call to
 * `decode()` hands out every line the chunk completes, synchronously. Lines
 * keep their `\n` (and a `\r` before it), as `BufferedReader.readline()`
 * returns them; {@link trimLineEnd} removes either ending. At the end of the
 * stream a last line without a newline is handed out as it is. The async
 * forms ({@link lines}, {@link lineBatches}, {@link decodeLines}) are built
 * on it.
 *
 * A line that lies within one chunk is a view of it (`subarray`, no copy);
 * one that spans chunks is copied once, when it is complete. Never more than
 * `maxLength` bytes are held between chunks: a line is refused as soon as it
 * is longer, whether or not its newline has come, and in skip mode the rest
 * of it is dropped chunk by chunk as it arrives. Chunks are taken as their
 * source gave them, not copied: a source must not reuse a chunk's memory
 * (a socket's chunks are fresh Buffers). Python counterpart: the line
 * splitting of `rfile.readline()`, with a limit by default.
 *
 * @example
 * ```ts
 * const decoder = new LineDecoder({ maxLength: 1024, tooLong: 'skip' })
 * socket.on('data', (chunk) => { for (const line of decoder.decode(chunk)) handle(trimLineEnd(line)) })
 * socket.on('end', () => { for (const line of decoder.end()) handle(line) })
 * ```
 */
export class LineDecoder {
  /** The longest line accepted, newline included. */
  readonly maxLength: number
  readonly #skip: boolean
  /** Views of the parts of the line that has not ended yet (until there are MAX_HELD_PARTS). */
  #held: Buffer[] = []
  /** Or, past that, the line so far in one buffer, its capacity doubling. */
  #joined: Buffer | undefined
  #heldBytes = 0
  /** Inside an over-long line: drop bytes through the next newline. */
  #skipping = false
  #failure: Error | undefined

  /**
   * @param options - `maxLength` (default 64 KiB) and `tooLong` (default `'throw'`).
   * @throws InvalidOptionError when `maxLength` is not a whole number of 1
   *   or more (or `Infinity`), or `tooLong` is neither `'throw'` nor `'skip'`.
   */
  constructor(options: LineDecoderOptions = {}) {
    const maxLength = options.maxLength ?? DEFAULT_MAX_LINE_LENGTH
    if (!(maxLength >= 1) || (!Number.isSafeInteger(maxLength) && maxLength !== Number.POSITIVE_INFINITY)) {
      throw new InvalidOptionError('maxLength', `Cannot use maxLength ${maxLength}: expected a whole number of 1 or more, or Infinity`)
    }
    const tooLong = options.tooLong ?? 'throw'
    if (tooLong !== 'throw' && tooLong !== 'skip') {
      throw new InvalidOptionError('tooLong', `Cannot use tooLong ${JSON.stringify(tooLong)}: expected 'throw' or 'skip'`)
    }
    this.maxLength = maxLength
    this.#skip = tooLong === 'skip'
  }

  /** Bytes held of a line whose newline has not come yet (at most `maxLength`). */
  get buffered(): number {
    return this.#heldBytes
  }

  /**
   * Whether part of a line is held and its newline has not come: a
   * server's stop then waits for the rest. An over-long line being skipped
   * does not count (as in `BufferedReader`): an endless line cannot hold a
   * stop.
   */
  get inFrame(): boolean {
    return this.#heldBytes !== 0
  }

  /**
   * Decodes one chunk.
   *
   * @param chunk - The next bytes of the stream.
   * @param into - Where the lines go (a new array by default).
   * @returns `into`, with every line the chunk completed appended in order,
   *   `\n` included.
   * @throws LineTooLongError (with `seen`, the bytes of the line that had
   *   arrived) for a line longer than `maxLength` in `'throw'` mode; `into`
   *   then holds the lines before it, and the decoder is failed (later
   *   calls throw the same error).
   */
  decode(chunk: Uint8Array, into: Buffer[] = []): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const end = bytes.length
    const maxLength = this.maxLength
    let at = 0
    if (this.#skipping) {
      const newline = bytes.indexOf(NEWLINE)
      if (newline === -1) return into
      this.#skipping = false
      at = newline + 1
    }
    if (this.#heldBytes !== 0 && at < end) {
      const newline = bytes.indexOf(NEWLINE, at)
      const stop = newline === -1 ? end : newline + 1
      const length = this.#heldBytes + stop - at
      if (length > maxLength) {
        this.#drop()
        this.#tooLong(length, newline !== -1)
        if (newline === -1) return into
      } else {
        this.#hold(bytes.subarray(at, stop))
        if (newline === -1) return into
        into.push(this.#take())
      }
      at = stop
    }
    // Lines whole in this chunk: one indexOf and one view each.
    while (at < end) {
      const newline = bytes.indexOf(NEWLINE, at)
      if (newline === -1) break
      if (newline + 1 - at > maxLength) this.#tooLong(newline + 1 - at, true)
      else into.push(bytes.subarray(at, newline + 1))
      at = newline + 1
    }
    if (at < end) {
      // Exactly maxLength bytes without a newline may still be a whole
      // last line: the next chunk or the end decides.
      if (end - at > maxLength) this.#tooLong(end - at, false)
      else this.#hold(bytes.subarray(at))
    }
    return into
  }

  /**
   * Ends the stream.
   *
   * @param into - Where the last line goes (a new array by default).
   * @returns `into`, with the last line appended when one had no newline
   *   (not when the decoder was dropping an over-long line).
   * @throws The decoder's error if it failed.
   */
  end(into: Buffer[] = []): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#heldBytes !== 0) into.push(this.#take())
    this.#skipping = false
    return into
  }

  /** Keeps a part of the unfinished line (the caller checked that the line stays within `maxLength`). */
  #hold(part: Buffer): void {
    const joined = this.#joined
    if (joined === undefined) {
      this.#held.push(part)
      this.#heldBytes += part.length
      if (this.#held.length < MAX_HELD_PARTS) return
      this.#joined = Buffer.concat(this.#held, Math.min(this.maxLength, 2 * this.#heldBytes))
      this.#held = []
      return
    }
    let target = joined
    const length = this.#heldBytes + part.length
    if (length > joined.length) {
      target = Buffer.allocUnsafe(Math.min(this.maxLength, Math.max(length, 2 * joined.length)))
      joined.copy(target, 0, 0, this.#heldBytes)
      this.#joined = target
    }
    part.copy(target, this.#heldBytes)
    this.#heldBytes = length
  }

  /** The held line, in one Buffer; nothing is held after. */
  #take(): Buffer {
    const line =
      this.#joined === undefined
        ? this.#held.length === 1
          ? (this.#held[0] as Buffer)
          : Buffer.concat(this.#held, this.#heldBytes)
        : this.#joined.subarray(0, this.#heldBytes)
    this.#drop()
    return line
  }

  #drop(): void {
    this.#held = []
    this.#joined = undefined
    this.#heldBytes = 0
  }

  /** An over-long line of `seen` bytes so far: skip it (and, without its newline, the rest of it), or fail. */
  #tooLong(seen: number, lineEndSeen: boolean): void {
    this.#skipping = !lineEndSeen
    if (this.#skip) return
    const error = new LineTooLongError(this.maxLength, lineEndSeen, seen)
    this.#failure = error
    throw error
  }
}
