/**
 * Typed errors of `@socketserver/handlers`.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * A line was longer than `maxLength` bytes. The reader never buffers more
 * than that, so an endless line cannot exhaust memory. The whole line is
 * dropped: a handler may catch this, answer, and read the next line (the
 * reader skips the rest of this one first when its newline had not come).
 * The line decoders (`lines()`, `lineBatches()`, `LineDecoder`) stop there
 * instead; with `tooLong: 'skip'` they drop such lines and never throw it.
 *
 * @example
 * ```ts
 * for (;;) {
 *   let line: Buffer
 *   try { line = await this.rfile.readline({ maxLength: 1024 }) }
 *   catch (err) {
 *     if (!(err instanceof LineTooLongError)) throw err
 *     await this.wfile.write('line too long\n') // and read on: the next line is a whole one
 *     continue
 *   }
 *   if (line.length === 0) return
 *   await this.wfile.write(line)
 * }
 * ```
 */
export class LineTooLongError extends SocketServerError {
  /** The limit that was passed. */
  readonly maxLength: number
  /**
   * Whether the line's newline had arrived: true, the line was dropped
   * whole; false, only the bytes so far were, and the rest of the line is
   * skipped by the next `readline()` (or read as it is by `read()`).
   */
  readonly lineEndSeen: boolean

  /**
   * How many bytes of the line had arrived when it was refused, newline
   * included when seen; undefined when the reader that refused it does not
   * count them (`readline()`). The line decoders (`lines()`,
   * `LineDecoder`) set it.
   */
  readonly seen: number | undefined

  /**
   * @param maxLength - The limit that was passed.
   * @param lineEndSeen - Whether the line's newline had arrived.
   * @param seen - The bytes of the line that had arrived, when counted.
   */
  constructor(maxLength: number, lineEndSeen = true, seen?: number) {
    super(
      seen === undefined
        ? `Cannot read a line: it is longer than ${maxLength} bytes (${lineEndSeen ? 'dropped through its newline' : 'its newline has not arrived; the rest is skipped by the next readline()'})`
        : `Cannot read a line: ${seen} bytes ${lineEndSeen ? 'through its newline' : 'and no newline yet'}, more than maxLength ${maxLength}`,
      'SS_ERR_LINE_TOO_LONG',
    )
    this.maxLength = maxLength
    this.lineEndSeen = lineEndSeen
    this.seen = seen
  }
}

/**
 * The stream ended before `readExactly(n)` got its `n` bytes.
 *
 * @example
 * ```ts
 * try { header = await this.rfile.readExactly(4) }
 * catch (err) { if (err instanceof IncompleteReadError) console.log(err.partial.length, 'of', err.expected) }
 * ```
 */
export class IncompleteReadError extends SocketServerError {
  /** How many bytes were asked for. */
  readonly expected: number
  /** The bytes that did arrive. */
  readonly partial: Uint8Array

  /**
   * @param expected - Bytes asked for.
   * @param partial - Bytes received before the end.
   */
  constructor(expected: number, partial: Uint8Array) {
    super(`Cannot read ${expected} bytes: the stream ended after ${partial.length}`, 'SS_ERR_INCOMPLETE_READ')
    this.expected = expected
    this.partial = partial
  }
}

/**
 * A frame is larger than the limit: when reading, its length prefix
 * announced more than `maxFrameSize` bytes (refused before any of them is
 * buffered); when writing, the frame is longer than `maxFrameSize`, than
 * its length prefix can say, or (a line) than `maxLength`. A decoder that
 * threw it is failed: the bytes after the prefix cannot be told apart from
 * the next frame any more.
 *
 * @example
 * ```ts
 * try { for await (const frame of lengthPrefixedFrames(request.source)) handle(frame) }
 * catch (err) { if (err instanceof FrameTooLargeError) console.log(err.size, 'bytes announced, limit', err.limit) }
 * ```
 */
export class FrameTooLargeError extends SocketServerError {
  /** The frame's size in bytes: announced by its prefix (reading) or its length (writing). */
  readonly size: number
  /** The limit it exceeded. */
  readonly limit: number

  /**
   * @param message - What was too large, then the size and the limit.
   * @param details - `size` and `limit`.
   */
  constructor(message: string, details: { size: number; limit: number }) {
    super(message, 'SS_ERR_FRAME_TOO_LARGE')
    this.size = details.size
    this.limit = details.limit
  }
}

/**
 * Bytes that cannot be a frame: a varint length prefix that does not end
 * within 8 bytes, is not in its shortest form or says more than 2^53 - 1;
 * or, when writing, a line that holds a newline before its end. `bytes`
 * holds what was seen. A decoder that threw it is failed.
 *
 * @example
 * ```ts
 * try { for await (const frame of lengthPrefixedFrames(request.source)) handle(frame) }
 * catch (err) { if (err instanceof MalformedFrameError) console.log(Buffer.from(err.bytes).toString('hex')) }
 * ```
 */
export class MalformedFrameError extends SocketServerError {
  /** The offending bytes: the length prefix as far as it was read, or the line. */
  readonly bytes: Uint8Array

  /**
   * @param message - What is wrong, showing the bytes.
   * @param bytes - The offending bytes.
   */
  constructor(message: string, bytes: Uint8Array) {
    super(message, 'SS_ERR_MALFORMED_FRAME')
    this.bytes = bytes
  }
}

/**
 * The stream ended inside a frame: in its length prefix, or before all the
 * bytes its prefix announced. A length-prefixed stream cut short is never
 * taken for a complete one (a last partial line, by contrast, is a line, as
 * `readline()` returns it).
 *
 * @example
 * ```ts
 * try { for await (const frame of lengthPrefixedFrames(request.source)) handle(frame) }
 * catch (err) { if (err instanceof IncompleteFrameError) console.log(err.partial.length, 'of', err.expected) }
 * ```
 */
export class IncompleteFrameError extends SocketServerError {
  /** The frame's length, from its prefix; undefined when the stream ended inside the prefix. */
  readonly expected: number | undefined
  /** The bytes of the length prefix that arrived. */
  readonly prefix: Uint8Array
  /** The bytes of the frame that arrived (empty when the stream ended inside the prefix). */
  readonly partial: Uint8Array

  /**
   * @param message - Where the stream ended, with the counts.
   * @param details - `expected`, `prefix` and `partial`.
   */
  constructor(message: string, details: { expected: number | undefined; prefix: Uint8Array; partial: Uint8Array }) {
    super(message, 'SS_ERR_INCOMPLETE_FRAME')
    this.expected = details.expected
    this.prefix = details.prefix
    this.partial = details.partial
  }
}
