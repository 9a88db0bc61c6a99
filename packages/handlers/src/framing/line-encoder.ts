/**
 * Encodes lines: each ends with one `\n`.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import type { Source } from 'it-stream-types'
import { DEFAULT_MAX_LINE_LENGTH } from '../buffered-reader.js'
import { FrameTooLargeError, MalformedFrameError } from '../errors.js'
import { type Frame, type FrameEncoder, isBatch } from './frame-writer.js'

const NEWLINE = 0x0a

/** Options of {@link LineEncoder} and {@link encodeLines}. */
export interface LineEncoderOptions {
  /**
   * The most bytes a line may have, its newline included. Default
   * {@link DEFAULT_MAX_LINE_LENGTH} (64 KiB), what a peer's `LineDecoder`
   * or `readline()` accepts by default; `Infinity` removes the limit.
   */
  maxLength?: number
}

/**
 * Encodes lines for a `\n`-delimited protocol. A line may come with its
 * `\n` (as the decoders yield it) or without (the encoder adds it), so a
 * decoded line can be written back as it is; a `\r\n` ending is kept. A
 * `\n` anywhere else is refused: the peer would read two lines. Python
 * counterpart: `wfile.write(line + b'\n')`, with the checks.
 *
 * @example
 * ```ts
 * const encoder = new LineEncoder()
 * encoder.encode('PING').toString() // 'PING\n'
 * encoder.encodeBatch(['a\n', 'b']).toString() // 'a\nb\n'
 * ```
 */
export class LineEncoder implements FrameEncoder {
  /** The longest line written, newline included. */
  readonly maxLength: number

  /**
   * @param options - `maxLength` (default 64 KiB).
   * @throws InvalidOptionError when `maxLength` is not a whole number of 1
   *   or more, or `Infinity`.
   */
  constructor(options: LineEncoderOptions = {}) {
    const maxLength = options.maxLength ?? DEFAULT_MAX_LINE_LENGTH
    if (!(maxLength >= 1) || (!Number.isSafeInteger(maxLength) && maxLength !== Number.POSITIVE_INFINITY)) {
      throw new InvalidOptionError('maxLength', `Cannot use maxLength ${maxLength}: expected a whole number of 1 or more, or Infinity`)
    }
    this.maxLength = maxLength
  }

  /**
   * Encodes one line.
   *
   * @param line - Bytes or text (UTF-8), with or without its `\n`.
   * @returns The line, ending with `\n`.
   * @throws MalformedFrameError when the line holds a `\n` before its end;
   *   FrameTooLargeError when it is longer than `maxLength`, its newline
   *   included.
   */
  encode(line: Frame): Buffer {
    const out = Buffer.allocUnsafe(this.#size(line))
    writeLine(line, out, 0)
    return out
  }

  /**
   * Encodes lines into one Buffer.
   *
   * @param lines - The lines, each as {@link LineEncoder.encode} takes it.
   * @returns The lines, each ending with `\n`.
   * @throws As {@link LineEncoder.encode}, for the first bad line; nothing
   *   is encoded then.
   */
  encodeBatch(lines: readonly Frame[]): Buffer {
    let total = 0
    for (const line of lines) total += this.#size(line)
    const out = Buffer.allocUnsafe(total)
    let at = 0
    for (const line of lines) at = writeLine(line, out, at)
    return out
  }

  /** The line's size once encoded, after checking it. */
  #size(line: Frame): number {
    const text = typeof line === 'string'
    const bytes = text ? Buffer.byteLength(line) : line.length
    const newline = text
      ? line.indexOf('\n')
      : (Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength)).indexOf(NEWLINE)
    const last = text ? line.length - 1 : bytes - 1
    if (newline !== -1 && newline !== last) {
      const at = text ? Buffer.byteLength(line.slice(0, newline)) : newline
      const shown = Buffer.from(line)
      throw new MalformedFrameError(
        `Cannot write a line: it holds a newline at byte ${at} of ${bytes}, before its end, and would be read as two lines`,
        shown,
      )
    }
    const size = newline === -1 ? bytes + 1 : bytes
    if (size > this.maxLength) {
      throw new FrameTooLargeError(`Cannot write a line of ${size} bytes, its newline included: more than maxLength ${this.maxLength}`, {
        size,
        limit: this.maxLength,
      })
    }
    return size
  }
}

/** Writes a checked line and its newline (when it lacks one) at `at`; returns the offset after it. */
function writeLine(line: Frame, out: Buffer, at: number): number {
  let end: number
  if (typeof line === 'string') {
    end = at + out.write(line, at, 'utf8')
  } else {
    out.set(line, at)
    end = at + line.length
  }
  if (end === at || out[end - 1] !== NEWLINE) out[end++] = NEWLINE
  return end
}

/**
 * An it-pipe stage that writes lines: each line (bytes or text, with or
 * without its `\n`) becomes one chunk ending with `\n`, and each array of
 * lines (a batch, as {@link lineBatches} yields them) one chunk for all.
 * The options are checked now. As for {@link encodeLengthPrefixed}, pipe
 * batches for a pipelined protocol: `request.sink` writes each chunk with a
 * system call of its own.
 *
 * Abort behaviour: the stage ends when its source does, and fails with its
 * source's error or the first bad line's; chunks it yielded before are
 * the sink's to write.
 *
 * @param options - `maxLength` (default 64 KiB).
 * @returns A transform from lines (or batches of lines) to chunks.
 * @throws InvalidOptionError for a bad `maxLength`. The transform throws
 *   MalformedFrameError or FrameTooLargeError for a bad line.
 * @example
 * ```ts
 * await pipe(request, decodeLines(), async function* (source) {
 *   for await (const line of source) yield `you said: ${trimLineEnd(line)}`
 * }, encodeLines(), request)
 * ```
 */
export function encodeLines(
  options: LineEncoderOptions = {},
): (source: Source<Frame | readonly Frame[]>) => AsyncGenerator<Buffer, void, undefined> {
  const encoder = new LineEncoder(options)
  return async function* (source) {
    for await (const item of source) {
      const bytes = isBatch(item) ? encoder.encodeBatch(item) : encoder.encode(item)
      if (bytes.length !== 0) yield bytes
    }
  }
}
