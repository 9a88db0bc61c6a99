/**
 * The request object for one accepted stream connection.
 *
 * @module
 */

import type { Socket } from 'node:net'
import type { Source } from 'it-stream-types'
import type { SocketAddress } from '../address.js'
import { ServerStoppingError } from '../errors.js'
import { AbortState } from '../internal/abort-state.js'
import { ABORT_STATE } from '../internal/fast-paths.js'
import type { ConnectionSource, Request, Server, StreamRequest } from '../types.js'
import { joinCorkedWrites } from './joined-writes.js'
import { SocketChunks } from './socket-chunks.js'
import { onSocketError } from './socket-listeners.js'
import { endWritingThen, writeAllThenEnd } from './socket-writing.js'
import { destroyDroppingCorked, unsentReplyError, unsentWriteError, watchUnsentWrites } from './unsent-writes.js'

/**
 * How long a closed connection keeps reading (and discarding) what the client
 * still sends before it is destroyed. Closing a socket whose receive buffer
 * holds unread bytes makes the kernel send RST instead of FIN, and an RST can
 * make the client drop the reply it has not read yet (the lingering close of
 * Go's net/http and Apache). Two seconds covers a slow client without holding
 * descriptors for long.
 */
const LINGER_MS = 2_000

/**
 * What a stream server's `peerAddress()` gives for an accepted socket: the
 * client's address, or a function that reads it from the socket when it is
 * first asked for (the socket must have read its peer once already, so that
 * Node keeps it after a close).
 *
 * @example
 * ```ts
 * // in a StreamServer subclass
 * protected override peerAddress(socket: Socket): PeerAddress {
 *   return { transport: 'unix', path: null }
 * }
 * ```
 */
export type PeerAddress = SocketAddress | ((socket: Socket) => SocketAddress)

/**
 * A {@link StreamRequest} over an accepted `net.Socket`.
 *
 * @internal Built by the stream servers; users receive it as `StreamRequest`.
 */
export class StreamConnection implements StreamRequest {
  readonly kind = 'stream' as const
  readonly socket: Socket
  /** The client's address, or the function that makes it on first use. */
  #clientAddress: PeerAddress
  readonly server: Server<Request>
  readonly [ABORT_STATE] = new AbortState()
  #closing: Promise<void> | undefined
  #source: SocketChunks | undefined

  /**
   * @param socket - The accepted socket.
   * @param clientAddress - The client's address, or a function that makes it
   *   from the socket when first asked (the socket must have read its peer
   *   address already, so that it is known after a close).
   * @param server - The server that accepted it.
   */
  constructor(socket: Socket, clientAddress: PeerAddress, server: Server<Request>) {
    this.socket = socket
    this.#clientAddress = clientAddress
    this.server = server
    // A client that ends its side still gets the whole reply: our side ends
    // in close(). (Sockets a forked child receives are made half-closing.)
    socket.allowHalfOpen = true
    // A socket error without a listener would crash the process; the handler
    // sees the error through its reads and writes instead.
    socket.on('error', onSocketError)
    // Node drops a write to a destroyed socket without an event: note such
    // writes, so close() reports the reply they lost.
    watchUnsentWrites(socket)
    // Replies batched by a cork leave as one buffer (see joined-writes.ts).
    joinCorkedWrites(socket)
  }

  /** Who connected. Made on first use: most connections never ask. */
  get clientAddress(): SocketAddress {
    const known = this.#clientAddress
    if (typeof known !== 'function') return known
    const address = known(this.socket)
    this.#clientAddress = address
    return address
  }

  get signal(): AbortSignal {
    return this[ABORT_STATE].signal
  }

  /**
   * The bytes the client sends, until it ends its side. Leaving the loop
   * early (`break`) keeps the connection open, so a handler can read a
   * request and then write its reply.
   */
  get source(): ConnectionSource {
    if (this.#source === undefined || this.#source.detached) this.#source = new SocketChunks(this.socket, this[ABORT_STATE])
    return this.#source
  }

  /**
   * Writes every chunk, honouring backpressure, then ends the write side.
   * Given a connection's own `source` that nobody has read from yet (an
   * echo: `request.sink(request.source)`, `pipe(request, request)`), the
   * bytes are forwarded as they arrive, without a promise per chunk, as Go's
   * `io.Copy` hands over to a reader's `WriteTo`.
   *
   * A getter, so only connections that use it pay for a function (a field
   * holding one cost every idle connection a closure and its context).
   */
  get sink(): (source: Source<Uint8Array>) => Promise<void> {
    const socket = this.socket
    return (source) => (source instanceof SocketChunks && source.canForward ? source.forwardTo(socket) : writeAllThenEnd(socket, source))
  }

  get stopping(): AbortSignal {
    return this[ABORT_STATE].stopping
  }

  /** Aborts `stopping`; a read waiting idle for the client ends (see `ConnectionSource`). */
  stop(reason?: unknown): void {
    if (!this[ABORT_STATE].beginStop(reason ?? new ServerStoppingError())) return
    const source = this.#source
    if (source !== undefined && !source.detached) source.endIdleRead()
  }

  abort(reason?: unknown): void {
    this[ABORT_STATE].abort(reason)
    destroyDroppingCorked(this.socket)
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const socket = this.socket
    const aborted = this[ABORT_STATE].aborted
    if (socket.destroyed) {
      // Destroyed before the request closed: by an abort (its reason is the
      // outcome), by the client, or on this side. A write made after that
      // is a reply lost without a word to anyone unless it is reported.
      const lost = aborted ? undefined : unsentWriteError(socket, this.clientAddress)
      if (lost !== undefined) throw lost
      return
    }
    // Python's shutdown_request(): shutdown(SHUT_WR) so the client sees every
    // byte and then EOF, then close. An abort meanwhile destroys the socket,
    // which fails the wait.
    if (aborted) {
      socket.destroy()
      return
    }
    const failure = await new Promise<Error | undefined>((resolve) => endWritingThen(socket, resolve))
    if (failure !== undefined) {
      // The reply did not all reach the kernel: the client reset the
      // connection first (an abort meanwhile is reported as itself).
      if (this[ABORT_STATE].aborted) return
      throw unsentReplyError(this.clientAddress, (failure.cause as Error | undefined) ?? failure)
    }
    if (socket.destroyed) return
    if (socket.readableEnded) {
      socket.destroy()
      return
    }
    // Lingering close: discard what the client still sends until it ends
    // (the socket then closes by itself) or LINGER_MS passes. A reader the
    // handler left attached would pause the socket once its queue filled,
    // and the end would never be read: it leaves first.
    void this.#source?.return()
    const timer = setTimeout(() => socket.destroy(), LINGER_MS)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
    socket.on('data', () => {})
    socket.once('end', () => socket.destroy())
    socket.resume()
  }
}
