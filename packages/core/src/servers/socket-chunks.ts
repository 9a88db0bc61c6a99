/**
 * The bytes a socket receives, as an async iterator, without the cost of
 * Node's generic stream iterator.
 *
 * @module
 */

import type { Socket } from 'node:net'
import { ReadPendingError } from '../errors.js'
import { afterNextPoll } from '../internal/next-poll.js'
import type { ConnectionSource, DeliverChunk } from '../types.js'
import { type ForwardingOwner, SocketForwarding } from './socket-forwarding.js'
import { attachReader, type ChunkReceiver, detachReader } from './socket-listeners.js'

/**
 * Chunks read ahead before the socket is paused. Small: the kernel's buffer
 * is the real queue, and pausing it is what slows a fast sender down.
 */
const READ_AHEAD_CHUNKS = 8

/** What a reader needs of its request's state: the abort reason, and whether the stop began. */
interface RequestState {
  readonly reason: unknown
  readonly stopBegan: boolean
}

/**
 * How long a connection that has sent nothing yet when serving stops may
 * take to send its first bytes before its read ends (a connection idle
 * between requests ends at once). A client sends its request as soon as
 * its connection is up, so its bytes follow the accept by a round trip at
 * most; a quarter of a second covers that on most networks without holding
 * a stop up for clients that connect and say nothing (and stays well
 * inside any drain deadline worth setting).
 */
export const FIRST_BYTES_GRACE_MS = 250

/** What a second read at once is refused with: reads of a source take turns. */
function readPendingError(): Error {
  return new ReadPendingError()
}

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
export class SocketChunks implements AsyncGenerator<Uint8Array, undefined, unknown>, ConnectionSource, ChunkReceiver, ForwardingOwner {
  readonly #socket: Socket
  /** Chunks read ahead of the reader; made on first use (a forwarding or always-waiting reader never needs it). */
  #chunks: Uint8Array[] | undefined
  #ended = false
  #error: Error | undefined
  // The resolving functions of the pending read, or of forwardTo() (two
  // fields, not an object: one allocation fewer per waiting connection).
  #resolve: ((result: IteratorResult<Uint8Array, undefined>) => void) | undefined
  #reject: ((error: Error) => void) | undefined
  #detached = false
  /** Where chunks go once forwardTo() took over. */
  #forwarding: SocketForwarding | undefined
  /** Whether anyone read (or forwarded) yet. */
  #started = false
  /** The pending nextChunk() read. */
  #deliver: DeliverChunk | undefined
  /** An idle check (on stop) is scheduled. */
  #idleCheck = false
  /** The idle check found nothing arriving once; the next one ends the read. */
  #checkedOnce = false
  /** A connection that had sent nothing when the stop began was given its grace (see FIRST_BYTES_GRACE_MS). */
  #gracedFirstBytes = false

  readonly #abort: RequestState | undefined

  /**
   * Set by the reader while it holds part of a message: a stop then lets
   * the read wait for the rest (see `ConnectionSource`).
   */
  midMessage = false

  /**
   * @param socket - The socket to read.
   * @param abort - The request's abort state: its reason is what a read
   *   rejects with when the socket is closed before its end, and once its
   *   stop began an idle read ends. (An object, not a callback: one closure
   *   fewer per connection.)
   */
  constructor(socket: Socket, abort?: RequestState) {
    this.#socket = socket
    this.#abort = abort
    // A reader that follows one that left early: the end may be behind us,
    // and what that reader had queued then waits here.
    this.#ended = socket.readableEnded || socket.destroyed
    if (socket.destroyed && !socket.readableEnded) this.#error = this.#closedError()
    this.#chunks = attachReader(socket, this)
  }

  /** Whether this reader left (return(), throw()). */
  get detached(): boolean {
    return this.#detached
  }

  /** Whether {@link SocketChunks.forwardTo} can take over: nothing read, no read pending, not left. */
  get canForward(): boolean {
    return this.#forwarding === undefined && this.#resolve === undefined && this.#deliver === undefined && !this.#detached && !this.#started
  }

  /**
   * Writes what the socket receives to `target` as it arrives, pausing the
   * socket while `target`'s buffer is full, then ends `target`: a reader
   * and writer loop without a promise per chunk, and nothing but this
   * object and one pending promise per waiting connection. Resolves when
   * `target` has finished; rejects as a read or a write would.
   */
  forwardTo(target: Socket): Promise<void> {
    const forwarding = new SocketForwarding(this.#socket, target, this)
    this.#forwarding = forwarding
    this.#started = true
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve as () => void
      this.#reject = reject
      if (!forwarding.start()) return
      for (const chunk of this.#chunks?.splice(0) ?? []) if (!this.#detached) forwarding.forward(chunk)
      // Started after the stop began: it ends once nothing more arrives.
      if (this.#abort?.stopBegan === true) this.#checkIdleSoon()
      if (this.#ended || this.#error !== undefined) this.#settle()
      else if (!this.#detached) this.#socket.resume()
    })
  }

  /** The forwarding's target closed or can no longer write: stop reading, fail as a write would. @internal */
  forwardingFailed(error: Error): void {
    // Once the source ended, the end of the target is awaited through finish() instead.
    if (this.#resolve === undefined) return
    this.#error ??= error
    this.#detach()
  }

  /** The forwarding's target drained: during a stop, check for idleness again. @internal */
  forwardingDrained(): void {
    if (this.#abort?.stopBegan === true) this.#checkIdleSoon()
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.#reading) return Promise.reject(readPendingError())
    const ready = this.#readyNow()
    if (ready === undefined) {
      return new Promise((resolve, reject) => {
        this.#resolve = resolve
        this.#reject = reject
      })
    }
    if (ready === null) return Promise.resolve({ done: true, value: undefined })
    if (ready instanceof Error) return Promise.reject(ready)
    return Promise.resolve({ done: false, value: ready })
  }

  /** `next()` through a callback, called synchronously when a chunk arrives: see {@link ConnectionSource.nextChunk}. */
  nextChunk(deliver: DeliverChunk): void {
    if (this.#reading) {
      deliver(undefined, readPendingError())
      return
    }
    const ready = this.#readyNow()
    if (ready === undefined) this.#deliver = deliver
    else if (ready === null) deliver(undefined)
    else if (ready instanceof Error) deliver(undefined, ready)
    else deliver(ready)
  }

  /** Whether nothing more will be read: the end, a failure, or the reader left. */
  get #over(): boolean {
    return this.#ended || this.#error !== undefined || this.#detached
  }

  /** Whether a read is waiting: a second one at once is refused, not queued. (Reads while forwarding get their own refusal.) */
  get #reading(): boolean {
    return this.#forwarding === undefined && (this.#resolve !== undefined || this.#deliver !== undefined)
  }

  /**
   * What a read gets at once: a queued chunk (resuming a paused socket once
   * the queue is half empty), the failure, `null` for the end, or undefined
   * when it has to wait.
   */
  #readyNow(): Uint8Array | Error | null | undefined {
    if (this.#forwarding !== undefined) return new Error('Cannot read: sink() is forwarding this source')
    this.#started = true
    const chunks = this.#chunks
    const chunk = chunks?.shift()
    if (chunk !== undefined) {
      if ((chunks as Uint8Array[]).length < READ_AHEAD_CHUNKS / 2 && !this.#detached && !this.#ended) this.#socket.resume()
      return chunk
    }
    if (this.#error !== undefined) return this.#error
    if (this.#ended || this.#detached) return null
    // Serving is stopping: this read waits, and ends if nothing arrives.
    if (this.#abort?.stopBegan === true) this.#checkIdleSoon()
    return undefined
  }

  /**
   * Fails a read that waits for the client's next bytes with `error` (an
   * idle timeout); the next read waits as usual. Returns whether a read (or
   * a forwarding) was waiting; if none was, nothing changes.
   */
  failWaitingRead(error: Error): boolean {
    if (this.#over) return false
    const deliver = this.#deliver
    if (deliver !== undefined) {
      this.#deliver = undefined
      deliver(undefined, error)
      return true
    }
    const reject = this.#reject
    if (reject === undefined) return false
    this.#resolve = this.#reject = undefined
    if (this.#forwarding !== undefined) this.#detach()
    reject(error)
    return true
  }

  /**
   * Serving is stopping: a read that waits (or a forwarding) ends as the
   * client's end would, unless the reader holds part of a message, once
   * nothing more arrives (see {@link SocketChunks.#checkIdleSoon}).
   */
  endIdleRead(): void {
    if (this.#over) return
    this.#checkIdleSoon()
  }

  /**
   * Ends the waiting read once the connection is truly idle: no chunk
   * queued, none in Node's buffer, the socket flowing, and a whole turn of
   * the event loop (its I/O poll included) gone by without a chunk. Bytes
   * that reached the kernel before the stop are read first: a socket just
   * resumed (accepted paused, or paused while the queue was full or the
   * forwarding target drained) needs a poll to deliver them. One check at a
   * time; a chunk that arrives meanwhile goes to the reader, whose next
   * read checks again.
   */
  #checkIdleSoon(): void {
    if (this.#idleCheck) return
    this.#idleCheck = true
    afterNextPoll(this)
  }

  /** The second half of {@link SocketChunks.#checkIdleSoon}, a turn later. @internal */
  afterPoll(): void {
    this.#idleCheck = false
    if (this.#over) return
    const forwarding = this.#forwarding !== undefined
    const waiting = forwarding ? this.#resolve !== undefined : this.#reading
    if (!waiting || this.midMessage) return
    const socket = this.#socket
    // Bytes still coming: their delivery (or the target's drain) checks again.
    if ((this.#chunks?.length ?? 0) > 0 || socket.readableLength > 0 || socket.isPaused()) return
    if (!this.#checkedOnce) {
      this.#checkedOnce = true
      this.#checkIdleSoon()
      return
    }
    this.#checkedOnce = false
    if (socket.bytesRead === 0 && !this.#gracedFirstBytes) {
      // Not a connection idle between requests: a new one, whose client's
      // first request may be on its way (accepted an instant before the
      // stop, or by a worker a rolling restart is replacing). It gets a
      // moment for its first bytes; the drain deadline still bounds it.
      this.#gracedFirstBytes = true
      setTimeout(() => this.#checkIdleSoon(), FIRST_BYTES_GRACE_MS).unref()
      return
    }
    this.#ended = true
    if (forwarding) socket.pause()
    this.#settle()
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

  /** A chunk arrived: forwarded, to the waiting reader, or queued (pausing the socket when the queue is full). */
  receive(chunk: Uint8Array): void {
    this.#checkedOnce = false
    const forwarding = this.#forwarding
    if (forwarding !== undefined) {
      forwarding.forward(chunk)
      if (this.#abort?.stopBegan === true) this.#checkIdleSoon()
      return
    }
    const deliver = this.#deliver
    if (deliver !== undefined) {
      this.#deliver = undefined
      deliver(chunk)
      return
    }
    const resolve = this.#resolve
    if (resolve !== undefined) {
      this.#resolve = this.#reject = undefined
      resolve({ done: false, value: chunk })
      return
    }
    this.#chunks ??= []
    this.#chunks.push(chunk)
    if (this.#chunks.length >= READ_AHEAD_CHUNKS) this.#socket.pause()
  }

  /** The peer ended its side, or (with `error`) the socket failed. */
  end(error?: Error): void {
    if (error === undefined) this.#ended = true
    else this.#error ??= error
    this.#settle()
  }

  /** The socket closed: before its end, that is an error for the reader. */
  closed(): void {
    if (!this.#socket.readableEnded) this.#error ??= this.#closedError()
    this.end()
  }

  #settle(): void {
    const deliver = this.#deliver
    if (deliver !== undefined) {
      this.#deliver = undefined
      deliver(undefined, this.#error)
      return
    }
    const resolve = this.#resolve
    const reject = this.#reject
    if (resolve === undefined || reject === undefined) return
    this.#resolve = this.#reject = undefined
    if (this.#error !== undefined) reject(this.#error)
    else if (this.#forwarding !== undefined)
      this.#forwarding.finish((error) => (error === undefined ? (resolve as () => void)() : reject(error)))
    else resolve({ done: true, value: undefined })
  }

  #detach(): void {
    if (this.#detached) return
    this.#detached = true
    detachReader(this.#socket, this.#chunks?.splice(0) ?? [])
    this.#settle()
  }
}
