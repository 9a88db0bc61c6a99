/**
 * Class-based handlers for stream connections.
 *
 * @module
 */

import type { Socket } from 'node:net'
import { RequestTimeoutError, type StreamRequest } from '@socketserver/core'
import { BaseRequestHandler } from './base-handler.js'
import { BufferedReader } from './buffered-reader.js'
import { BufferedWriter } from './buffered-writer.js'

/**
 * A handler for stream connections with a buffered reader (`rfile`) and a
 * writer (`wfile`). Python counterpart: `socketserver.StreamRequestHandler`.
 *
 * Settings, as class fields of a subclass (they are read in `setup()`):
 * - `wbufsize` (default 0): bytes `wfile` collects before sending; what is
 *   left is flushed in `finish()`.
 * - `idleTimeoutMs` (default undefined; formerly `timeoutMs`, still read
 *   as an alias): the longest the connection may stay
 *   idle (no byte read or written). When it passes while the handler waits
 *   to read, that read rejects with `RequestTimeoutError`: the handler may
 *   catch it and write a last line (`wfile` still works) before it returns,
 *   or read on. When it passes again with no activity in between, or while
 *   the handler was not reading (a write stuck on a client that reads
 *   nothing), the request aborts with the same error and the connection is
 *   destroyed. Python's `timeout` is per socket
 *   operation, the same idea.
 * - `noDelay` (default undefined: the server's choice, which for
 *   `TCPServer` is Nagle's algorithm off): true disables Nagle's algorithm
 *   for this connection (Python's `disable_nagle_algorithm`), false enables
 *   it again. Ignored on Unix sockets, which have no Nagle's algorithm
 *   (Python raises EOPNOTSUPP there instead).
 *
 * @example
 * ```ts
 * class Upper extends StreamRequestHandler {
 *   override idleTimeoutMs = 30_000
 *   override async handle() {
 *     for await (const line of this.rfile.lines()) {
 *       await this.wfile.write(Buffer.from(line).toString().toUpperCase())
 *     }
 *   }
 * }
 * ```
 */
export class StreamRequestHandler extends BaseRequestHandler<StreamRequest> {
  /** Kept for parity with Python: reads are always buffered here, chunk by chunk. */
  rbufsize = -1
  /** Bytes `wfile` collects before sending (Python's `wbufsize`). Default 0. */
  wbufsize = 0
  /**
   * Idle timeout in milliseconds (no byte read or written for that long),
   * or undefined for none. Named apart from `serve()`'s `timeoutMs`, which
   * bounds the whole request.
   */
  idleTimeoutMs: number | undefined = undefined
  /**
   * The former name of {@link StreamRequestHandler.idleTimeoutMs}, still
   * read when `idleTimeoutMs` is not set.
   *
   * @deprecated Use `idleTimeoutMs`; this alias goes in the next release.
   */
  timeoutMs: number | undefined = undefined
  /**
   * Nagle's algorithm for this connection (Python's
   * `disable_nagle_algorithm`): true turns it off, false turns it back on,
   * undefined (the default) keeps the server's choice. `TCPServer` turns it
   * off for every connection already (its `noDelay` option, default true).
   * Ignored on Unix sockets.
   */
  noDelay: boolean | undefined = undefined
  /** The connected socket (Python's `connection`). */
  connection!: Socket
  /** The buffered reader over the connection. */
  rfile!: BufferedReader
  /** The writer to the connection. */
  wfile!: BufferedWriter
  #onTimeout: (() => void) | undefined

  /** Sets up `connection`, the idle timeout, Nagle, `rfile` and `wfile`, in Python's order. */
  override async setup(): Promise<void> {
    const socket = this.request.socket
    this.connection = socket
    const timeoutMs = this.idleTimeoutMs ?? this.timeoutMs
    const source = this.request.source
    if (timeoutMs !== undefined) {
      // First the waiting read fails (the handler can say goodbye); if the
      // connection stays idle after that, or no read was waiting, the
      // request aborts. A connection that was active again in between
      // (bytes read or written) gets the goodbye chance again.
      let activityAtFailedRead = -1
      const onTimeout = (): void => {
        const error = new RequestTimeoutError(timeoutMs, 'idle wait')
        const activity = socket.bytesRead + socket.bytesWritten
        if (activity !== activityAtFailedRead && source.failWaitingRead(error)) {
          activityAtFailedRead = activity
          // Node added the listener once: it is gone after firing.
          socket.setTimeout(timeoutMs, onTimeout)
        } else this.request.abort(error)
      }
      this.#onTimeout = onTimeout
      socket.setTimeout(timeoutMs, onTimeout)
    }
    if (this.noDelay !== undefined && this.request.clientAddress.transport === 'tcp') socket.setNoDelay(this.noDelay)
    this.rfile = new BufferedReader(source)
    this.wfile = new BufferedWriter(socket, { bufferSize: this.wbufsize })
  }

  /**
   * Flushes `wfile`. Unlike Python, which ignores a socket error here, a
   * flush that fails is thrown: the bytes `wbufsize` held back were the
   * reply, and it was lost (the client reset, say). When `handle()` threw
   * already, its error is the one reported and the flush failure is dropped
   * with the connection.
   */
  override async finish(): Promise<void> {
    try {
      await this.wfile?.close()
    } catch (error) {
      if (!this.handleFailed) throw error
    } finally {
      if (this.#onTimeout !== undefined) {
        this.connection.setTimeout(0)
        this.connection.off('timeout', this.#onTimeout)
      }
    }
  }
}
