/**
 * A writer to a socket that honours backpressure, optionally buffered.
 *
 * @module
 */

import type { Socket } from 'node:net'
import { InvalidOptionError } from '@socketserver/core'

const RESOLVED = Promise.resolve()

/** Options of {@link BufferedWriter}. */
export interface BufferedWriterOptions {
  /**
   * Bytes collected before they are sent (Python's `wbufsize`). 0, the
   * default, sends each write at once.
   */
  bufferSize?: number
}

/**
 * Writes to a socket. `write()` resolves once the socket took the bytes
 * (they leave at the end of the turn, with the turn's other writes) or,
 * when its buffer is over its high-water mark, once it has drained, so a
 * handler that awaits its writes never buffers without bound
 * for a client that reads nothing. Python counterpart: the `wfile` of
 * `StreamRequestHandler` (`_SocketWriter`, or a `BufferedWriter` with
 * `wbufsize`).
 *
 * Writes made in one turn of the event loop are corked and leave together
 * at the turn's end, in one `writev`: replies to pipelined requests, each
 * awaited in turn, go out as one packet.
 *
 * Abort behaviour: if the socket is destroyed (the request's signal aborted,
 * the client reset), pending and later writes reject with the socket's own
 * error (`ECONNRESET`, `EPIPE`) or, when it closed without one, an error with
 * code `ERR_STREAM_DESTROYED`; bytes still in the buffer are lost.
 *
 * @example
 * ```ts
 * const writer = new BufferedWriter(request.socket, { bufferSize: 65_536 })
 * await writer.write('hello\n')
 * await writer.flush()
 * ```
 */
export class BufferedWriter {
  readonly #socket: Socket
  readonly #bufferSize: number
  #pending: Uint8Array[] = []
  #pendingBytes = 0
  #closed = false
  #closing: Promise<void> | undefined
  /** The drain that writes made while the socket's buffer is full wait for. */
  #drained: Promise<void> | undefined

  /**
   * @param socket - Where to write.
   * @param options - `bufferSize`.
   */
  constructor(socket: Socket, options: BufferedWriterOptions = {}) {
    const bufferSize = options.bufferSize ?? 0
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 0) {
      throw new InvalidOptionError('bufferSize', `Cannot use bufferSize ${bufferSize}: expected an integer of 0 or more`)
    }
    this.#socket = socket
    this.#bufferSize = bufferSize
  }

  /** Whether {@link BufferedWriter.close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** Bytes written but held in the buffer. */
  get buffered(): number {
    return this.#pendingBytes
  }

  /**
   * Writes `data` (text is UTF-8).
   *
   * @param data - Bytes or text.
   * @returns The number of bytes written, always all of them (as Python's).
   * @throws Error when the writer is closed or the socket can no longer write.
   */
  write(data: Uint8Array | string): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('Cannot write: the writer is closed'))
    if (this.#bufferSize === 0) {
      // Text goes to the socket as it is (Node encodes it without an
      // intermediate Buffer); the count is of UTF-8 bytes, as sent.
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length
      const sent = this.#send(data)
      return sent === RESOLVED ? Promise.resolve(size) : sent.then(() => size)
    }
    // A copy: the caller may reuse its array once write() resolved, before the bytes went out.
    return this.#buffer(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data))
  }

  async #buffer(bytes: Uint8Array): Promise<number> {
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    if (this.#pendingBytes >= this.#bufferSize) await this.flush()
    return bytes.length
  }

  /** Sends everything buffered. */
  async flush(): Promise<void> {
    if (this.#pendingBytes === 0) return
    const chunks = this.#pending
    this.#pending = []
    this.#pendingBytes = 0
    await this.#send(chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks))
  }

  /** Flushes, then refuses further writes. The socket stays open. */
  close(): Promise<void> {
    // Closed from the start, so a write made while the last bytes are
    // flushed is refused rather than buffered and never sent; every call
    // waits for that same flush.
    this.#closing ??= (async () => {
      this.#closed = true
      await this.flush()
    })()
    return this.#closing
  }

  #send(bytes: Uint8Array | string): Promise<void> {
    const socket = this.#socket
    if (socket.destroyed || !socket.writable) return Promise.reject(closedError(socket))
    // Writes made in one turn of the event loop leave together, in one
    // system call (writev) at its end: a handler answering pipelined
    // requests one `await write()` at a time, each read from the buffer
    // without waiting for the network, sends one packet per batch rather
    // than one per reply. A lone reply leaves in the same turn as before.
    // Measured (50 connections x 16 lines in flight, README's UpperHandler,
    // Nagle off): 170,000 -> 470,000 requests/s, one writev per 16 replies
    // (strace: 0.06 writes per request, as a raw node:net server); the
    // bench's one-in-flight line case unchanged (0.86 vs 0.87 x raw, 5 rounds).
    // Corked already (by an earlier write of this turn, or by the caller,
    // who then uncorks): nothing to add. The core's sink() does the same.
    if (socket.writableCorked === 0) {
      socket.cork()
      process.nextTick(uncork, socket)
    }
    // The encoding applies to text only.
    if (socket.write(bytes, 'utf8')) return RESOLVED
    // Every write made while the buffer is full waits for the same drain:
    // one set of listeners, however many writes are not awaited.
    this.#drained ??= this.#nextDrain()
    return this.#drained
  }

  /**
   * Settles at the socket's next 'drain'; but a socket ended meanwhile (the
   * request closed while a write waited) sends no 'drain', only 'finish'
   * once every byte, these included, was handed to the kernel.
   */
  #nextDrain(): Promise<void> {
    const socket = this.#socket
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        this.#drained = undefined
        socket.off('drain', onDone)
        socket.off('finish', onDone)
        socket.off('close', onClose)
        socket.off('error', onError)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onDone = (): void => done()
      const onError = (error: Error): void => done(error)
      const onClose = (): void => done(socket.writableFinished ? undefined : closedError(socket))
      socket.on('drain', onDone)
      socket.on('finish', onDone)
      socket.on('close', onClose)
      socket.on('error', onError)
    })
  }
}

function uncork(socket: Socket): void {
  socket.uncork()
}

/**
 * Why a socket cannot be written: its own error (ECONNRESET, EPIPE, the
 * abort reason) when it has one, else a generic "closed" error.
 */
function closedError(socket: Socket): Error {
  return socket.errored ?? Object.assign(new Error('Cannot write: the connection is closed'), { code: 'ERR_STREAM_DESTROYED' })
}
