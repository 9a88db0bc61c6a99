/**
 * Typed errors of `@socketserver/handlers`.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * A line was longer than `maxLength` bytes without a newline. The reader
 * never buffers more than that, so an endless line cannot exhaust memory.
 *
 * @example
 * ```ts
 * try { await this.rfile.readline({ maxLength: 1024 }) }
 * catch (err) { if (err instanceof LineTooLongError) await this.wfile.write('line too long\n') }
 * ```
 */
export class LineTooLongError extends SocketServerError {
  /** The limit that was passed. */
  readonly maxLength: number

  /** @param maxLength - The limit that was passed. */
  constructor(maxLength: number) {
    super(`Cannot read a line: it is longer than ${maxLength} bytes`, 'SS_ERR_LINE_TOO_LONG')
    this.maxLength = maxLength
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
