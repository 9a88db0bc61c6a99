/**
 * The life of every server here: new → bound → active → closed, an
 * optional signal that closes it, and a bounded queue that turns socket
 * events into an async iterable of requests.
 *
 * @module
 */

import { formatAddress, type SocketAddress } from '../address.js'
import { channels } from '../diagnostics.js'
import { OverflowError, ServerClosedError, ServerNotReadyError, WaitTimeoutError } from '../errors.js'
import { waitLimit } from '../internal/option-checks.js'
import type { AbortOptions, RequestIterator, Server, ServerAddress, ServerObserver, SocketRequest } from '../types.js'
import { AcceptQueue } from './accept-queue.js'
import { printSlowWait, WaitWatch } from './wait-watch.js'

type State = 'new' | 'bound' | 'active' | 'closed'

/**
 * How long a request may wait for a consumer before it is reported, by
 * default: 1 s. That is the initial retransmission timeout of TCP
 * (RFC 6298), the point at which the network itself calls a reply late, and
 * a person at a client notices a pause that long. Ordinary bursts, a pool
 * full for a few milliseconds, never reach it; a pool held by persistent
 * connections does within a second, which is what a user needs to hear
 * about.
 */
export const DEFAULT_SLOW_WAIT_MS = 1_000

/** What a server received, what waits now, and what it refused before any handler saw it. */
export interface ServerStats {
  /**
   * Requests queued for consumers (connections accepted, datagrams
   * received), including those later refused for waiting `maxWaitMs`.
   */
  received: number
  /** Refused because the queue (`maxPendingConnections` / `maxPendingDatagrams`) was full. */
  overflowed: number
  /**
   * Requests received and not yet taken by a consumer, right now: with
   * `pooled({ concurrency })` full, the ones waiting for a free slot (#16).
   */
  waiting: number
  /**
   * Requests that waited `slowWaitMs` or longer for a consumer, each counted
   * once, when it crossed that line (it may have been served since).
   */
  slowWaits: number
  /** Requests refused, unserved, for waiting `maxWaitMs` (reported as `WaitTimeoutError`). */
  waitTimeouts: number
}

/**
 * Options of every server that queues requests for its consumers: how long
 * a request may wait there (for a free policy slot) before it is reported,
 * and before it is refused (#16).
 */
export interface QueuedServerOptions extends AbortOptions {
  /**
   * Milliseconds a request may wait for a consumer (a free slot of
   * `pooled({ concurrency })`, say) before it is reported: once per request,
   * while it still waits, on `socketserver:server:wait` (`{ server, request,
   * waitedMs, waiting }`) and in `server.stats.slowWaits`. The first such
   * request of a server also prints one line on stderr, unless the channel
   * has a subscriber then: subscribing is how to take the report over (or
   * to silence it). `Infinity` turns the watch off. Default
   * {@link DEFAULT_SLOW_WAIT_MS}: TCP's initial retransmission timeout, so
   * bursts of a few milliseconds never count, while a pool held by
   * persistent clients is reported within a second instead of never.
   */
  slowWaitMs?: number
  /**
   * Milliseconds a request may wait for a consumer before it is refused: a
   * connection is closed unserved (a datagram dropped), counted in
   * `server.stats.waitTimeouts` and reported as a `WaitTimeoutError` on
   * `socketserver:server:drop`, which `serve()` passes to `handleError`.
   * Default `Infinity`: a request waits until a slot frees, as it always
   * did, because refusing one is a change of behaviour a server must choose
   * (a client that would rather wait than be turned away is common).
   */
  maxWaitMs?: number
}

/**
 * What stream and datagram servers share. Subclasses open and shut the
 * socket and hand each request to `offer()`.
 */
export abstract class QueuedServer<R extends SocketRequest> implements Server<R> {
  readonly #queue: AcceptQueue<R>
  readonly #signal: AbortSignal | undefined
  #state: State = 'new'
  #address: SocketAddress | undefined
  #closing: Promise<void> | undefined
  /** The bind in progress, if any: close() waits for it to free what it binds. */
  #opening: Promise<SocketAddress> | undefined
  readonly #counts: Omit<ServerStats, 'waiting'> = { received: 0, overflowed: 0, slowWaits: 0, waitTimeouts: 0 }
  /** Watches queued requests for slowWaitMs and maxWaitMs; undefined when both are Infinity. */
  readonly #watch: WaitWatch<R> | undefined
  /** What a request of this server is called in the slow-wait line: `connection`, `datagram`. */
  readonly #noun: string
  #warned = false
  /** Requests dropped unserved once hand-outs stopped, reported with the close. */
  #droppedUnserved = 0
  #handingOut = true
  /** Who is told of drops and of the close (see {@link Server.observe}). */
  readonly #observers = new Set<ServerObserver>()
  #toldClosed = false
  // close() does not reject in practice; if it ever did, an abort must not
  // become an unhandled rejection that ends the process.
  readonly #onAbort = (): void => void this.close().catch(() => {})

  /**
   * @param options - The signal that closes the server; `slowWaitMs`, `maxWaitMs`.
   * @param limit - The most requests kept while nobody pulls.
   * @param noun - What a request is called in messages: `connection`, `datagram`.
   * @throws InvalidOptionError when `slowWaitMs` or `maxWaitMs` is not 1 to 2³¹-1 ms or Infinity.
   */
  protected constructor(options: QueuedServerOptions, limit: number, noun = 'request') {
    this.#queue = new AcceptQueue(limit)
    this.#signal = options.signal
    this.#noun = noun
    const slowWaitMs = waitLimit('slowWaitMs', options.slowWaitMs ?? DEFAULT_SLOW_WAIT_MS)
    const maxWaitMs = waitLimit('maxWaitMs', options.maxWaitMs ?? Number.POSITIVE_INFINITY)
    if (slowWaitMs !== Number.POSITIVE_INFINITY || maxWaitMs !== Number.POSITIVE_INFINITY) {
      this.#watch = new WaitWatch(
        this.#queue,
        slowWaitMs,
        maxWaitMs,
        (request, waitedMs) => this.#waitedLong(request, waitedMs),
        (request) => this.#waitedTooLong(request, maxWaitMs),
      )
    }
  }

  /** Where the server listens. Throws `ServerNotReadyError` before `bind()`. */
  get address(): ServerAddress<R> {
    if (this.#address === undefined) {
      if (this.#state === 'closed') throw new ServerClosedError('Cannot read the address: the server was closed before it was bound')
      throw new ServerNotReadyError('Cannot read the address: the server is not bound, call bind() first')
    }
    return this.#address as ServerAddress<R>
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#state === 'closed'
  }

  /** Requests received, waiting and refused so far (a snapshot). */
  get stats(): Readonly<ServerStats> {
    const { received, overflowed, slowWaits, waitTimeouts } = this.#counts
    return { received, overflowed, waiting: this.#queue.size, slowWaits, waitTimeouts }
  }

  /** Requests received and waiting for a consumer. */
  protected get queued(): number {
    return this.#queue.size
  }

  /**
   * Binds the address (Python's `server_bind()`); requests arriving before
   * `activate()` wait in the bounded queue.
   *
   * Abort behaviour: if `options.signal` is already aborted, rejects with its
   * reason and binds nothing; aborting it later closes the server.
   *
   * @throws BindError (and its subclasses) with the system `code` when the
   *   address cannot be bound; ServerClosedError when already bound or closed.
   */
  async bind(): Promise<void> {
    if (this.#state !== 'new') throw new ServerClosedError(`Cannot bind the server: it is ${this.#state}`)
    this.#signal?.throwIfAborted()
    this.#state = 'bound'
    const opening = this.open()
    this.#opening = opening
    try {
      this.#address = await opening
    } catch (error) {
      this.#state = 'closed'
      throw error
    } finally {
      this.#opening = undefined
    }
    // close() was called meanwhile: it waited for this bind and frees the address.
    if ((this.#state as State) === 'closed') throw new ServerClosedError('Cannot bind the server: it was closed while binding')
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    if (this.#signal?.aborted) this.#onAbort()
  }

  /**
   * Starts handing requests to iterators (Python's `server_activate()`).
   *
   * @throws ServerNotReadyError before `bind()`; ServerClosedError when active or closed already.
   */
  activate(): void {
    if (this.#state === 'new') throw new ServerNotReadyError('Cannot activate the server: it is new, call bind() first')
    if (this.#state !== 'bound') throw new ServerClosedError(`Cannot activate the server: it is ${this.#state}`)
    this.#state = 'active'
    channels.serverListen.publish({ server: this })
  }

  /** The socket's file descriptor, or -1 before bind, after close, or where it is not exposed. */
  fileno(): number {
    return this.#state === 'closed' ? -1 : this.descriptor()
  }

  /**
   * Stops listening, ends every iteration with `done`, frees the address
   * (and removes a Unix socket file we created). Requests received but
   * never handed out are dropped and counted on `socketserver:server:close`;
   * requests already handed out are not touched. Idempotent.
   *
   * Abort behaviour: not abortable; it completes promptly.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = this.#close()
      // After #closing is set: an observer that closes the server in turn
      // (serve() stopping) gets the same promise.
      this.#tellClosed()
    }
    return this.#closing
  }

  /**
   * Tells `observer` of every request refused before a consumer took it
   * (overflow, a wait too long, an oversized datagram), of every accept
   * that failed, and once of the close (or {@link QueuedServer.stopHandingOut}),
   * until the returned function is called. `serve()` observes the server
   * it serves; see {@link Server.observe}.
   *
   * @param observer - Told of drops and of the close.
   * @returns Stops telling `observer`.
   * @example
   * ```ts
   * const unobserve = server.observe({ dropped: (error) => console.error(error.message), closed: () => {} })
   * ```
   */
  observe(observer: ServerObserver): () => void {
    this.#observers.add(observer)
    return () => {
      this.#observers.delete(observer)
    }
  }

  /**
   * Reports a request refused before any handler saw it: on
   * `socketserver:server:drop` and to the observers. The caller disposes of
   * the request.
   */
  protected reportDrop(error: Error): void {
    channels.serverDrop.publish({ server: this, error })
    for (const observer of this.#observers) observer.dropped(error)
  }

  /** Reports an accept that failed: on `socketserver:server:acceptError` and to the observers. */
  protected reportAcceptError(error: Error): void {
    channels.serverAcceptError.publish({ server: this, error })
    for (const observer of this.#observers) observer.dropped(error)
  }

  #tellClosed(): void {
    if (this.#toldClosed) return
    this.#toldClosed = true
    for (const observer of [...this.#observers]) observer.closed()
  }

  async #close(): Promise<void> {
    let bound = this.#address !== undefined
    const opening = this.#opening
    this.#state = 'closed'
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#endHandingOut()
    // Closed while binding: wait for the bind to finish, then free what it bound.
    if (opening !== undefined) {
      try {
        await opening
        bound = true
      } catch {
        bound = false
      }
    }
    if (bound) await this.shut()
    channels.serverClose.publish({ server: this, dropped: this.#droppedUnserved })
  }

  /** Closes the server; for `await using server = await TCPServer.listen(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Yields each request in arrival order until the server closes. While
   * nobody pulls, requests wait in a bounded queue. Several iterators may
   * share a server; each request goes to one.
   */
  [Symbol.asyncIterator](): RequestIterator<R> {
    if (this.#state === 'new' || this.#state === 'bound') {
      throw new ServerNotReadyError(
        `Cannot iterate the server: it is ${this.#state}, call ${this.#state === 'new' ? 'bind() and ' : ''}activate() first`,
      )
    }
    return this.#queue[Symbol.asyncIterator]()
  }

  /**
   * Ends every iteration, as {@link QueuedServer.close} does, but keeps the
   * address bound: requests queued or arriving from now on are dropped
   * (counted on `socketserver:server:close`), while requests already handed
   * out keep their socket. A datagram server needs this while `serve()`
   * drains: its socket is also how running requests reply. `close()` must
   * follow. Observers are told, as of a close.
   */
  protected stopHandingOut(): void {
    this.#endHandingOut()
    this.#tellClosed()
  }

  #endHandingOut(): void {
    if (!this.#handingOut) return
    this.#handingOut = false
    this.#watch?.stop()
    const dropped = this.#queue.end()
    for (const request of dropped) request.abort()
    this.#droppedUnserved += dropped.length
  }

  /**
   * Queues a request for the consumers; when the queue is full, reports an
   * `OverflowError` on `socketserver:server:drop` and aborts the request.
   *
   * @returns Whether the request was queued.
   */
  protected offer(request: R): boolean {
    if (!this.#handingOut) {
      if (this.#state !== 'closed') this.#droppedUnserved++
      request.abort()
      return false
    }
    // Counted first: a waiting policy may start the request inside push().
    this.#counts.received++
    if (this.#queue.push(request)) {
      // Queued rather than handed to a waiting consumer: watch it. (Items
      // and waiting consumers never coexist, so size > 0 means queued.) A
      // request taken at once costs one comparison here.
      if (this.#queue.size > 0) this.#watch?.queued()
      return true
    }
    this.#counts.received--
    this.#counts.overflowed++
    const address = request.clientAddress
    this.reportDrop(new OverflowError(address, this.#queue.limit))
    request.abort()
    return false
  }

  /** A queued request crossed `slowWaitMs`: count, publish, and the first time print a line. */
  #waitedLong(request: R, waitedMs: number): void {
    this.#counts.slowWaits++
    const waiting = this.#queue.size
    channels.serverWait.publish({ server: this, request, waitedMs, waiting })
    if (this.#warned) return
    this.#warned = true
    // A subscriber takes the report over; without one, the user would
    // otherwise hear nothing at all (the silent wait of #16).
    if (channels.serverWait.hasSubscribers) return
    printSlowWait(this.#noun, formatAddress(request.clientAddress), waitedMs, waiting)
  }

  /** A queued request waited `maxWaitMs`: the watch took it out; refuse it as overflow is refused. */
  #waitedTooLong(request: R, maxWaitMs: number): void {
    this.#counts.waitTimeouts++
    const address = request.clientAddress
    const error = new WaitTimeoutError(address, maxWaitMs)
    this.reportDrop(error)
    request.abort(error)
  }

  /** Opens and binds the socket; resolves with the bound address. */
  protected abstract open(): Promise<SocketAddress>
  /** Closes the socket and cleans up. */
  protected abstract shut(): Promise<void>
  /** The socket's descriptor, or -1. */
  protected abstract descriptor(): number
}
