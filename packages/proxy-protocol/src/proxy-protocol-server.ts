/**
 * A stream server whose connections begin with a PROXY protocol header:
 * a wrapper over any stream server, written from the public `Server`
 * contract of `@socketserver/core`.
 *
 * @module
 */

import diagnosticsChannel from 'node:diagnostics_channel'
import {
  AcceptQueue,
  type RequestIterator,
  type Server,
  type ServerObserver,
  type SocketAddress,
  type StreamRequest,
} from '@socketserver/core'
import { ProxyProtocolError, type ProxyProtocolFailure } from './errors.js'
import { type ProxyProtocolOptions, resolveProxyProtocolOptions } from './options.js'
import type { ProxyProtocolVersion } from './parse.js'
import { annotate, type ProxiedFacts } from './proxied-request.js'
import { readProxyHeader } from './read-header.js'
import { DEFAULT_TRUSTED_PROXIES, TrustedProxies } from './trusted-proxies.js'

/** Published on `socketserver:proxy:refused` for each connection refused for its header. */
export const proxyRefusedChannel: diagnosticsChannel.Channel = diagnosticsChannel.channel('socketserver:proxy:refused')

/** What the wrapper took and refused. */
export interface ProxyProtocolStats {
  /** Connections taken from the wrapped server. */
  received: number
  /** Connections whose header was read and accepted. */
  accepted: number
  /** Reading their header now. */
  reading: number
  /** With their header read, waiting for a consumer now. */
  waiting: number
  /** Refused, by reason. */
  refused: Record<ProxyProtocolFailure, number>
  /** Dropped unserved because the wrapper closed while they were reading or waiting. */
  droppedOnClose: number
}

/**
 * Wraps a stream server (TCP, Unix stream, or any `Server` of stream
 * requests) so that every connection must begin with a PROXY protocol
 * header. See {@link ProxyProtocolServer}.
 *
 * @param server - A listening stream server.
 * @param options - Versions, trusted proxies, timeout, bound.
 * @returns The wrapper, a `Server` of {@link ProxiedStreamRequest}s.
 * @throws InvalidOptionError for bad options.
 * @example
 * ```ts
 * const server = withProxyProtocol(await TCPServer.listen({ port: 0 }), { trustedProxies: ['10.0.0.0/8'] })
 * await serve(server, (request) => request.socket.end(`you are ${formatAddress(request.clientAddress)}\n`), { signal })
 * ```
 */
export function withProxyProtocol<R extends StreamRequest>(server: Server<R>, options: ProxyProtocolOptions = {}): ProxyProtocolServer<R> {
  return new ProxyProtocolServer(server, options)
}

/**
 * A server of the connections of another stream server whose PROXY
 * header was read and believed. Each connection's header is read off the
 * accept path, many at once (up to `maxPendingHeaders`) and never in a
 * policy slot, each within `proxyHeaderTimeoutMs`; the request handed out
 * is the wrapped server's own, with `clientAddress` set to the client the
 * proxy relays, `proxyAddress` to the proxy, and `proxy` to the header.
 * No byte after the header is lost or read twice.
 *
 * A connection from a peer not in `trustedProxies`, without a valid
 * header, or too slow with it, is closed and reported as a
 * `ProxyProtocolError`: counted in `stats`, published on
 * `socketserver:proxy:refused`, and told to observers (`serve()` passes it
 * to `handleError`). The server keeps serving.
 *
 * Closing the wrapper closes the wrapped server; connections still reading
 * their header or waiting for a consumer are closed unserved and counted.
 * The wrapped server's drops reach the wrapper's observers too.
 */
export class ProxyProtocolServer<R extends StreamRequest = StreamRequest> implements Server<R & ProxiedFacts> {
  readonly #inner: Server<R>
  readonly #version: ProxyProtocolVersion
  readonly #trusted: TrustedProxies
  readonly #timeoutMs: number
  readonly #limit: number
  readonly #ready: AcceptQueue<R & ProxiedFacts>
  readonly #reading = new Set<R>()
  readonly #observers = new Set<ServerObserver>()
  #source: RequestIterator<R> | undefined
  #pulling = false
  #over = false
  #closing: Promise<void> | undefined
  #toldClosed = false
  #unobserveInner: (() => void) | undefined
  readonly #stats: Omit<ProxyProtocolStats, 'reading' | 'waiting'> = {
    received: 0,
    accepted: 0,
    refused: { malformed: 0, untrusted: 0, timeout: 0, ended: 0 },
    droppedOnClose: 0,
  }

  /**
   * @param server - The stream server to wrap.
   * @param options - See {@link ProxyProtocolOptions}.
   * @throws InvalidOptionError for bad options.
   */
  constructor(server: Server<R>, options: ProxyProtocolOptions = {}) {
    this.#inner = server
    const resolved = resolveProxyProtocolOptions(options)
    this.#version = resolved.version
    this.#trusted = new TrustedProxies(resolved.trustedProxies ?? DEFAULT_TRUSTED_PROXIES)
    this.#timeoutMs = resolved.proxyHeaderTimeoutMs
    const limit = resolved.maxPendingHeaders
    this.#limit = limit
    this.#ready = new AcceptQueue(limit)
    // The wrapped server's drops are this server's, and its close (by
    // whoever) is this server's close.
    this.#unobserveInner = server.observe?.({
      dropped: (error) => this.#tellDropped(error),
      closed: () => this.#stopTaking(),
    })
  }

  /** Where the wrapped server listens. */
  get address(): SocketAddress {
    return this.#inner.address
  }

  /** Whether the wrapper, or the server it wraps, was closed. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#inner.closed
  }

  /** The wrapped server's descriptor. */
  fileno(): number {
    return this.#inner.fileno()
  }

  /** What was taken, read, refused and dropped (a snapshot). */
  get stats(): Readonly<ProxyProtocolStats> {
    return { ...this.#stats, refused: { ...this.#stats.refused }, reading: this.#reading.size, waiting: this.#ready.size }
  }

  /** The peers whose header is believed, as configured. */
  get trustedProxies(): readonly string[] {
    return this.#trusted.entries
  }

  /**
   * Requests whose header was read, in the order their headers completed.
   * The first iterator starts taking connections from the wrapped server.
   */
  [Symbol.asyncIterator](): RequestIterator<R & ProxiedFacts> {
    const iterator = this.#ready[Symbol.asyncIterator]()
    this.#pump()
    return iterator
  }

  /**
   * Tells `observer` of refused headers, of the wrapped server's drops, and
   * once of the close (see `Server.observe`).
   *
   * @returns Stops telling `observer`.
   */
  observe(observer: ServerObserver): () => void {
    this.#observers.add(observer)
    return () => {
      this.#observers.delete(observer)
    }
  }

  /**
   * Closes the wrapped server and every connection still reading its
   * header or waiting for a consumer (counted in `stats.droppedOnClose`).
   * Requests already handed out are not touched. Idempotent.
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

  /** No more connections: those reading or waiting are closed, iteration ends, observers are told. */
  #stopTaking(): void {
    if (this.#over) return
    this.#over = true
    for (const request of this.#ready.end()) this.#dropOnClose(request)
    for (const request of [...this.#reading]) this.#dropOnClose(request)
    void this.#source?.return?.()
    if (!this.#toldClosed) {
      this.#toldClosed = true
      for (const observer of [...this.#observers]) observer.closed()
    }
  }

  #dropOnClose(request: R): void {
    this.#reading.delete(request)
    this.#stats.droppedOnClose++
    request.abort()
  }

  /** Takes connections while fewer than the limit read or wait. */
  #pump(): void {
    if (this.#over || this.#pulling) return
    this.#source ??= this.#inner[Symbol.asyncIterator]()
    const source = this.#source
    while (this.#reading.size + this.#ready.size < this.#limit) {
      const request = source.takeNow?.()
      if (request === undefined) break
      this.#take(request)
      if (this.#over) return
    }
    if (this.#reading.size + this.#ready.size >= this.#limit) return
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
        this.#tellDropped(error instanceof Error ? error : new Error(String(error)))
        this.#stopTaking()
      },
    )
  }

  /** One connection: refused at once if its peer is not trusted, else its header is read. */
  #take(request: R): void {
    this.#stats.received++
    const peer = request.clientAddress
    if (!this.#trusted.allows(peer)) {
      this.#refuse(
        request,
        new ProxyProtocolError('untrusted', `the peer is not one of trustedProxies (${this.#trusted.entries.join(', ') || 'none'})`, peer),
      )
      return
    }
    this.#reading.add(request)
    readProxyHeader(request.socket, this.#version, this.#timeoutMs).then(
      (header) => {
        if (!this.#reading.delete(request)) return // closed meanwhile
        this.#stats.accepted++
        const proxied = annotate(request, header)
        if (!this.#ready.push(proxied)) this.#dropOnClose(request)
        this.#pump()
      },
      (error: ProxyProtocolError) => {
        if (!this.#reading.delete(request)) return
        this.#refuse(request, new ProxyProtocolError(error.reason, error.detail, peer, { cause: error.cause }))
        this.#pump()
      },
    )
  }

  #refuse(request: R, error: ProxyProtocolError): void {
    this.#stats.refused[error.reason]++
    request.abort(error)
    if (proxyRefusedChannel.hasSubscribers) proxyRefusedChannel.publish({ server: this, clientAddress: error.clientAddress, error })
    // A peer that leaves before its header is complete (a port scan, a
    // health check that only connects) is counted and published, not
    // reported: it would fill stderr.
    if (error.reason !== 'ended') this.#tellDropped(error)
  }

  #tellDropped(error: Error): void {
    for (const observer of this.#observers) observer.dropped(error)
  }
}
