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
   * @param maxLength - The limit that was passed.
   * @param lineEndSeen - Whether the line's newline had arrived.
   */
  constructor(maxLength: number, lineEndSeen = true) {
    super(
      `Cannot read a line: it is longer than ${maxLength} bytes (${lineEndSeen ? 'dropped through its newline' : 'its newline has not arrived; the rest is skipped by the next readline()'})`,
      'SS_ERR_LINE_TOO_LONG',
    )
    this.maxLength = maxLength
    this.lineEndSeen = lineEndSeen
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
