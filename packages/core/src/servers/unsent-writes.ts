/**
 * Writes to a connection that could not go out and that nobody was told
 * about, so a lost reply reaches `handleError` instead of vanishing.
 *
 * Node fails a `write()` or `end(data)` on a destroyed socket without an
 * `error` event: only a callback, when one was given, hears of it. The
 * commonest way there is a handler that reads with `for await (const chunk
 * of request.socket)`: Node's iterator destroys the socket, both ways, when
 * the loop ends, and the reply written after it is dropped in silence. A
 * write after `end()` fails through an `error` event that only our listener
 * hears. Both are noted here, per socket, and {@link StreamConnection} turns
 * the note into a `ReplyError` when the request closes.
 *
 * @module
 * @internal
 */

import { Socket } from 'node:net'
import { formatAddress, type SocketAddress } from '../address.js'
import { ReplyError } from '../errors.js'

/** What the first lost write of a socket was. */
interface UnsentWrite {
  readonly bytes: number
  /** The socket was ended, not destroyed, when it was written. */
  readonly afterEnd: boolean
}

/** Only sockets that lost a write have an entry: the common path stores nothing. */
const unsent = new WeakMap<Socket, UnsentWrite>()

const { write, end, destroy } = Socket.prototype

/**
 * Watches the writes made to `socket` from now on. A write or `end(data)`
 * without a callback, made once the socket was destroyed or ended, is noted
 * (a write with a callback is not: its caller hears of the failure).
 *
 * Two shared functions set on the socket (no closure per connection); a
 * write pays one property check.
 */
export function watchUnsentWrites(socket: Socket): void {
  socket.write = writeWatched as Socket['write']
  socket.end = endWatched as Socket['end']
  socket.destroy = destroyFlushingCorked as Socket['destroy']
}

/**
 * Bytes corked for the rest of a turn (`wfile` and `sink()` batch a turn's
 * writes) were accepted as written: a deliberate destroy in the same turn
 * (`socket.destroy()` with no error, after the goodbye line) sends them
 * first, as it would have without the cork. A destroy with an error, and
 * `request.abort()`, drop them.
 */
function destroyFlushingCorked(this: Socket, error?: Error): Socket {
  if (error == null && !this.destroyed) while (this.writableCorked > 0) this.uncork()
  return destroy.call(this, error)
}

/** Destroys `socket` without sending what is corked (an abort drops unsent bytes). */
export function destroyDroppingCorked(socket: Socket, error?: Error): void {
  destroy.call(socket, error)
}

function writeWatched(this: Socket, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  if ((this.destroyed || this.writableEnded) && typeof encoding !== 'function' && typeof callback !== 'function') note(this, chunk)
  return write.call(this, chunk as string, encoding as BufferEncoding, callback as (error?: Error | null) => void)
}

function endWatched(this: Socket, chunk?: unknown, encoding?: unknown, callback?: unknown): Socket {
  const carriesData = chunk !== undefined && chunk !== null && typeof chunk !== 'function'
  if (carriesData && (this.destroyed || this.writableEnded) && typeof encoding !== 'function' && typeof callback !== 'function') {
    note(this, chunk)
  }
  return end.call(this, chunk as Uint8Array, encoding as BufferEncoding, callback as () => void)
}

function note(socket: Socket, chunk: unknown): void {
  if (unsent.has(socket)) return
  const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : ArrayBuffer.isView(chunk) ? chunk.byteLength : 0
  unsent.set(socket, { bytes, afterEnd: !socket.destroyed })
}

/**
 * The error for the first write `socket` lost without telling its caller,
 * if it lost one.
 *
 * @param socket - A socket given to {@link watchUnsentWrites}.
 * @param clientAddress - Its peer, for the error.
 */
export function unsentWriteError(socket: Socket, clientAddress: SocketAddress): ReplyError | undefined {
  const lost = unsent.get(socket)
  if (lost === undefined) return undefined
  const to = `Cannot send ${lost.bytes} bytes to ${formatAddress(clientAddress)}`
  if (lost.afterEnd) {
    return new ReplyError(clientAddress, `${to}: they were written after the connection was ended`, 'ERR_STREAM_WRITE_AFTER_END')
  }
  // Node's socket iterator destroys the socket with an AbortError: that is
  // this side too, not a failure of the connection.
  const failure = socket.errored
  if (failure !== null && (failure as NodeJS.ErrnoException).code !== 'ABORT_ERR') {
    const code = (failure as NodeJS.ErrnoException).code ?? 'ERR_STREAM_DESTROYED'
    return new ReplyError(clientAddress, `${to}: they were written after the connection failed (${code})`, code, { cause: failure })
  }
  return new ReplyError(
    clientAddress,
    `${to}: they were written after the connection was destroyed on this side (a for await loop over request.socket destroys it when the loop ends: read with request.source, rfile, or request.socket.iterator({ destroyOnReturn: false }))`,
    'ERR_STREAM_DESTROYED',
  )
}

/**
 * The error for a reply that was still being sent when the request closed
 * and could not be: the connection failed (the client reset it) before the
 * kernel took every byte.
 *
 * @param clientAddress - The peer.
 * @param failure - Why the end failed.
 */
export function unsentReplyError(clientAddress: SocketAddress, failure: Error): ReplyError {
  const code = (failure as NodeJS.ErrnoException).code ?? 'ERR_STREAM_DESTROYED'
  return new ReplyError(
    clientAddress,
    `Cannot send the rest of the reply to ${formatAddress(clientAddress)}: the connection failed before it was sent (${code})`,
    code,
    { cause: failure },
  )
}
