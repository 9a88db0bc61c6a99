/**
 * The bytes a socket receives, as an async iterator, without the cost of
 * Node's generic stream iterator.
 *
 * @module
 */

import type { Socket } from 'node:net'

/**
 * Chunks read ahead before the socket is paused. Small: the kernel's buffer
 * is the real queue, and pausing it is what slows a fast sender down.
 */
const READ_AHEAD_CHUNKS = 8

/**
 * Iterates what a socket receives: one listener for `data`, a small queue,
 * the socket paused when the queue is full. In profiles of small
 * request/reply protocols, Node's `readable[Symbol.asyncIterator]` spent
 * several promise and `readable`-event turns per chunk; this hands a chunk
 * to a waiting reader in one step.
 *
 * Leaving early (`return()`, a `break`) puts unread chunks back into the
 * socket (`unshift`) and pauses it, so the connection stays usable.
 * A socket error rejects the next read; the end of the stream (the peer's
 * FIN) ends iteration. A socket closed before its end (the request aborted,
 * the socket destroyed) rejects the next read with the abort reason or a
 * premature-close error, so a reader never mistakes a cut-off stream for a
 * complete one.
 *
 * @internal
 */
export class SocketChunks implements AsyncGenerator<Uint8Array, undefined, unknown> {
  readonly #socket: Socket
  readonly #chunks: Uint8Array[] = []
  #ended = false
  #error: Error | undefined
  #waiter: { resolve: (result: IteratorResult<Uint8Array, undefined>) => void; reject: (error: Error) => void } | undefined
  #detached = false

  readonly #onData = (chunk: Uint8Array): void => {
    const waiter = this.#waiter
    if (waiter !== undefined) {
      this.#waiter = undefined
      waiter.resolve({ done: false, value: chunk })
      return
    }
    this.#chunks.push(chunk)
    if (this.#chunks.length >= READ_AHEAD_CHUNKS) this.#socket.pause()
  }

  readonly #onEnd = (): void => {
    this.#ended = true
    this.#settle()
  }

  readonly #onClose = (): void => {
    if (!this.#socket.readableEnded) this.#error ??= this.#closedError()
    this.#onEnd()
  }

  readonly #abort: { readonly reason: unknown } | undefined

  readonly #onError = (error: Error): void => {
    this.#error ??= error
    this.#settle()
  }

  /**
   * @param socket - The socket to read.
   * @param abort - The request's abort state: its reason is what a read
   *   rejects with when the socket is closed before its end. (An object, not
   *   a callback: one closure fewer per connection.)
   */
  constructor(socket: Socket, abort?: { readonly reason: unknown }) {
    this.#socket = socket
    this.#abort = abort
    // A reader that follows one that left early: the end may be behind us.
    this.#ended = socket.readableEnded || socket.destroyed
    if (socket.destroyed && !socket.readableEnded) this.#error = this.#closedError()
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('close', this.#onClose)
    socket.on('error', this.#onError)
    socket.resume()
  }

  /** Whether this reader left (return(), throw()). */
  get detached(): boolean {
    return this.#detached
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    const chunk = this.#chunks.shift()
    if (chunk !== undefined) {
      if (this.#chunks.length < READ_AHEAD_CHUNKS / 2 && !this.#detached && !this.#ended) this.#socket.resume()
      return Promise.resolve({ done: false, value: chunk })
    }
    if (this.#error !== undefined) return Promise.reject(this.#error)
    if (this.#ended || this.#detached) return Promise.resolve({ done: true, value: undefined })
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject }
    })
  }

  async return(): Promise<IteratorResult<Uint8Array, undefined>> {
    this.#detach()
    return { done: true, value: undefined }
  }

  async throw(error: unknown): Promise<IteratorResult<Uint8Array, undefined>> {
    this.#detach()
    throw error
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#detach()
  }

  #closedError(): Error {
    const reason = this.#abort?.reason
    if (reason instanceof Error) return reason
    const errored = this.#socket.errored
    if (errored != null) return errored
    return Object.assign(new Error('Cannot read: the connection was closed before the end of its stream'), {
      code: 'ERR_STREAM_PREMATURE_CLOSE',
      cause: reason,
    })
  }

  #settle(): void {
    const waiter = this.#waiter
    if (waiter === undefined) return
    this.#waiter = undefined
    if (this.#error !== undefined) waiter.reject(this.#error)
    else waiter.resolve({ done: true, value: undefined })
  }

  #detach(): void {
    if (this.#detached) return
    this.#detached = true
    const socket = this.#socket
    socket.off('data', this.#onData)
    socket.off('end', this.#onEnd)
    socket.off('close', this.#onClose)
    socket.off('error', this.#onError)
    socket.pause()
    const unread = this.#chunks.splice(0).reverse()
    if (!socket.readableEnded && !socket.destroyed) for (const chunk of unread) socket.unshift(chunk)
    this.#settle()
  }
}
