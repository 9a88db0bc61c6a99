/**
 * Character generator, RFC 864.
 *
 * @module
 */

import { randomInt } from 'node:crypto'
import type { SocketRequest } from '@socketserver/core'

/** The 95 printable ASCII characters, space to tilde, in order. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')
/** Characters per line, as in the RFC's example. */
const LINE_LENGTH = 72
/** Lines sent per write: large enough to keep the socket busy, small enough to stop promptly. */
const LINES_PER_WRITE = 64

/**
 * Line `n` of the RFC 864 pattern: 72 printable characters starting at
 * offset `n` mod 95, then CR LF.
 *
 * @param n - The line number, from 0.
 * @returns The line.
 * @example
 * ```ts
 * chargenLine(0) // ' !"#$%&...' (72 characters) + '\r\n'
 * ```
 */
export function chargenLine(n: number): string {
  const start = n % PRINTABLE.length
  const doubled = PRINTABLE + PRINTABLE
  return `${doubled.slice(start, start + LINE_LENGTH)}\r\n`
}

/**
 * The bytes of the pattern from its start, cut at `length` (the datagram
 * form).
 *
 * @param length - How many bytes.
 * @returns The bytes.
 */
export function chargenBytes(length: number): Buffer {
  let text = ''
  for (let n = 0; text.length < length; n++) text += chargenLine(n)
  return Buffer.from(text.slice(0, length))
}

/**
 * Over a stream, sends the pattern until the client closes; over datagrams,
 * replies one datagram of a random length from 0 to 512 bytes.
 *
 * @param request - A stream or datagram request.
 * @example
 * ```sh
 * socketserver serve chargen --tcp 127.0.0.1:1919
 * ```
 */
export default async function chargen(request: SocketRequest): Promise<void> {
  if (request.kind === 'datagram') return request.reply(chargenBytes(randomInt(0, 513)))
  const socket = request.socket
  // Whatever the client sends is ignored; reading it notices when it leaves.
  socket.resume()
  let line = 0
  // It never waits for the client, so it ends on the stop notice: serving is
  // stopping, the stream ends after the block in progress.
  while (!socket.destroyed && socket.writable && !request.signal.aborted && !request.stopping.aborted) {
    let block = ''
    for (let i = 0; i < LINES_PER_WRITE; i++) block += chargenLine(line++)
    if (socket.write(block)) {
      // Taken at once (a client reading as fast as loopback allows): still
      // let the event loop run before the next block, or this loop would
      // starve every other client, timer and signal of the process.
      await new Promise<void>((resolve) => setImmediate(resolve))
    } else {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done)
          socket.off('close', done)
          request.stopping.removeEventListener('abort', done)
          resolve()
        }
        socket.on('drain', done)
        socket.on('close', done)
        request.stopping.addEventListener('abort', done)
      })
    }
    if (socket.readableEnded) return
  }
}
