/**
 * The base of servers that wrap another: each request the wrapped server
 * accepts is prepared first (a PROXY header read, a TLS handshake), off the
 * accept path, then handed out.
 *
 * @module
 */

import { observedIterator } from '../internal/observed-iterator.js'
import type { Request, RequestIterator, Server, ServerAddress, ServerObserver } from '../types.js'
import { AcceptQueue } from './accept-queue.js'

/**
 * A server of another server's requests, each handed out once
 * {@link WrappingServer.prepare} has finished with it: the stage DESIGN.md
 * calls a wrapper (`withProxyProtocol()` is one). Written from the public
 * `Server` contract only, so it wraps ours and anyone's, and it has the
 * contract's optional members itself: `observe()` (the wrapped server's
 * drops, the refusals, the close) and the batch pulls of its iterators.
 *
 * Requests are prepared many at once: up to `limit` are being prepared or
 * wait, prepared, for a consumer; beyond that the wrapper takes no more
 * from the wrapped server, so they wait in its bounded queue and then the
 * kernel's backlog. Preparing never holds a slot of the consumer's policy.
 * A `prepare()` that rejects refuses the request: it is aborted with the
 * error, which observers are told of (`serve()` passes it to `handleError`)
 * unless {@link WrappingServer.refused} says not to. A request taken is
 * never dropped silently.
 *
 * Closing the wrapper closes the wrapped server; requests still being
 * prepared or waiting are aborted and counted in
 * {@link WrappingServer.droppedOnClose}. A close of the wrapped server by
 * other means is the wrapper's close too.
 *
 * @example
 * ```ts
 * class Greeted extends WrappingServer<StreamRequest, StreamRequest> {
 *   constructor(server: Server<StreamRequest>) { super(server, 1_024) }
 *   protected async prepare(request: StreamRequest) {
 *     request.socket.write('hello\n')
 *     return request
 *   }
 * }
 * ```
 */
export abstract class WrappingServer<R extends Request, P extends Request> implements Server<P> {
  readonly #inner: Server<R>
  readonly #limit: number
  readonly #ready: AcceptQueue<P>
  readonly #preparing = new Set<R>()
  readonly #observers = new Set<ServerObserver>()
  #source: RequestIterator<R> | undefined
  #pulling = false
  #over = false
  #closing: Promise<void> | undefined
  #toldClosed = false
  #unobserveInner: (() => void) | undefined
  #droppedOnClose = 0

  /**
   * @param inner - The server to wrap.
   * @param limit - The most requests being prepared or waiting at once.
   */
  protected constructor(inner: Server<R>, limit: number) {
    this.#inner = inner
    this.#limit = limit
    this.#ready = new AcceptQueue(limit)
    // The wrapped server's drops are this server's, and its close (by
    // whoever) is this server's close.
    this.#unobserveInner = inner.observe?.({
      dropped: (error) => this.reportDrop(error),
      closed: () => this.#stopTaking(),
    })
  }

  /**
   * Prepares one request taken from the wrapped server.
   *
   * @param request - The wrapped server's request.
   * @returns The request to hand out: the same one with more facts, or a
   *   new one (over a TLS socket, say).
   * @throws (rejects) to refuse the request; it is aborted with the error.
   */
  protected abstract prepare(request: R): Promise<P>

  /**
   * Told of each refused request, after it was aborted.
   *
   * @param request - The refused request.
   * @param error - Why (what `prepare()` rejected with).
   * @returns Whether to tell observers (default true); false for refusals
   *   that would only be noise on stderr (a peer that left at once).
   */
  protected refused(request: R, error: unknown): boolean {
    void request
    void error
    return true
  }

  /** Tells observers of a drop (`serve()` passes it to `handleError`). */
  protected reportDrop(error: Error): void {
    for (const observer of this.#observers) observer.dropped(error)
  }

  /** Requests being prepared now. */
  protected get preparing(): number {
    return this.#preparing.size
  }

  /** Requests prepared and waiting for a consumer now. */
  protected get waiting(): number {
    return this.#ready.size
  }

  /** Requests aborted unserved because the wrapper closed while they were prepared or waited. */
  get droppedOnClose(): number {
    return this.#droppedOnClose
  }

  /** Where the wrapped server listens. */
  get address(): ServerAddress<P> {
    return this.#inner.address as unknown as ServerAddress<P>
  }

  /** Whether the wrapper, or the server it wraps, was closed. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#inner.closed
  }

  /** The wrapped server's descriptor. */
  fileno(): number {
    return this.#inner.fileno()
  }

  /**
   * Prepared requests, in the order they were ready. The first iterator
   * starts taking requests from the wrapped server.
   */
  [Symbol.asyncIterator](): RequestIterator<P> {
    const ready = this.#ready[Symbol.asyncIterator]()
    this.#pump()
    // Each request taken frees room: take more from the wrapped server (a
    // full queue had stopped that).
    return observedIterator(ready, () => this.#pump())
  }

  /**
   * Tells `observer` of refusals, of the wrapped server's drops, and once of
   * the close (see `Server.observe`).
   *
   * @param observer - Told of drops and of the close.
   * @returns Stops telling `observer`.
   */
  observe(observer: ServerObserver): () => void {
    this.#observers.add(observer)
    return () => {
      this.#observers.delete(observer)
    }
  }

  /**
   * Closes the wrapped server and every request still being prepared or
   * waiting (counted in {@link WrappingServer.droppedOnClose}). Requests
   * already handed out are not touched. Idempotent.
   *
   * Abort behaviour: not abortable; it completes once the wrapped server's
   * `close()` has.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    let closed!: () => void
    let failed!: (error: unknown) => void
    this.#closing = new Promise<void>((resolve, reject) => {
      closed = resolve
      failed = reject
    })
    // Set before anyone is told: an observer that closes this server in
    // turn (serve() stopping) gets the same promise.
    this.#unobserveInner?.()
    this.#stopTaking()
    this.#inner.close().then(closed, failed)
    return this.#closing
  }

  /** Closes the wrapper; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** No more requests: those being prepared or waiting are aborted, iteration ends, observers are told. */
  #stopTaking(): void {
    if (this.#over) return
    this.#over = true
    for (const request of this.#ready.end()) this.#dropOnClose(request)
    for (const request of [...this.#preparing]) {
      this.#preparing.delete(request)
      this.#dropOnClose(request)
    }
    void this.#source?.return?.()
    if (!this.#toldClosed) {
      this.#toldClosed = true
      for (const observer of [...this.#observers]) observer.closed()
    }
  }

  #dropOnClose(request: Request): void {
    this.#droppedOnClose++
    request.abort()
  }

  /** Takes requests while fewer than the limit are prepared or wait. */
  #pump(): void {
    if (this.#over || this.#pulling) return
    this.#source ??= this.#inner[Symbol.asyncIterator]()
    const source = this.#source
    while (this.#preparing.size + this.#ready.size < this.#limit) {
      const request = source.takeNow?.()
      if (request === undefined) break
      this.#take(request)
      if (this.#over) return
    }
    if (this.#preparing.size + this.#ready.size >= this.#limit) return
    this.#pulling = true
    source.next().then(
      (result) => {
        this.#pulling = false
        if (result.done === true) this.#stopTaking()
        else {
          this.#take(result.value)
          this.#pump()
        }
      },
      (error: unknown) => {
        this.#pulling = false
        this.reportDrop(error instanceof Error ? error : new Error(String(error)))
        this.#stopTaking()
      },
    )
  }

  #take(request: R): void {
    this.#preparing.add(request)
    let preparing: Promise<P>
    try {
      preparing = this.prepare(request)
    } catch (error) {
      preparing = Promise.reject(error)
    }
    preparing.then(
      (prepared) => {
        if (!this.#preparing.delete(request)) {
          // Closed meanwhile: the request was aborted; a new one made from it goes too.
          if (prepared !== (request as unknown)) prepared.abort()
          return
        }
        if (!this.#ready.push(prepared)) this.#dropOnClose(prepared)
        this.#pump()
      },
      (error: unknown) => {
        if (!this.#preparing.delete(request)) return
        request.abort(error)
        if (this.refused(request, error)) this.reportDrop(error instanceof Error ? error : new Error(String(error)))
        this.#pump()
      },
    )
  }
}
