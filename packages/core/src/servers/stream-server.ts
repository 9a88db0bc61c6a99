/**
 * What TCP and Unix stream servers share: a `net.Server` whose accepted
 * connections become {@link StreamRequest}s, pulled through a bounded queue.
 *
 * @module
 */

import net from 'node:net'
import { formatAddress, type SocketAddress } from '../address.js'
import { channels } from '../diagnostics.js'
import { InvalidOptionError, OverflowError, ServerClosedError } from '../errors.js'
import type { AbortOptions, Server, StreamRequest } from '../types.js'
import { AcceptQueue } from './accept-queue.js'
import { StreamConnection } from './stream-connection.js'

/**
 * The listen backlog we ask for by default. The kernel clamps it to its own
 * maximum (`net.core.somaxconn`, 4096 on current Linux), so this means "the
 * OS maximum". Python's `request_queue_size` is 5, which resets connections
 * under small bursts (gh-80184); Node's own default is 511.
 */
export const DEFAULT_BACKLOG = 65_535

/**
 * How many accepted connections may wait for a consumer by default.
 *
 * libuv accepts every connection the kernel completes and offers no way to
 * stop accepting short of closing the listening socket (libuv#1937), which
 * would reset everyone in the backlog. So a server that nobody pulls from
 * keeps accepting, but holds each connection paused (not one byte read, the
 * data stays in the kernel) in a queue of this size; beyond it, new
 * connections are refused at once and reported on
 * `socketserver:server:drop` (with an `OverflowError`). A paused connection
 * costs a few KB.
 */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 1_024

/** Options every stream server takes. */
export interface StreamServerOptions extends AbortOptions {
  /**
   * The listen backlog. Default {@link DEFAULT_BACKLOG}, the OS maximum
   * (Python's default of 5 resets connections under bursts).
   */
  backlog?: number
  /**
   * The most accepted connections held, paused, while nobody pulls from the
   * server. Default {@link DEFAULT_MAX_PENDING_CONNECTIONS}.
   */
  maxPendingConnections?: number
}

type State = 'new' | 'bound' | 'active' | 'closed'

/**
 * The shared machinery of {@link TCPServer} and {@link UnixStreamServer}.
 * Subclasses say how to listen and how to name peers.
 */
export abstract class StreamServer implements Server<StreamRequest> {
  readonly #queue: AcceptQueue<StreamConnection>
  readonly #backlog: number
  readonly #signal: AbortSignal | undefined
  #netServer: net.Server | undefined
  #state: State = 'new'
  #address: SocketAddress | undefined
  #closing: Promise<void> | undefined
  readonly #onAbort = (): void => void this.close()

  protected constructor(options: StreamServerOptions) {
    this.#backlog = positiveInteger('backlog', options.backlog ?? DEFAULT_BACKLOG)
    const limit = options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS
    this.#queue = new AcceptQueue(nonNegativeInteger('maxPendingConnections', limit))
    this.#signal = options.signal
  }

  /** Where the server listens. Throws before {@link StreamServer.bind}. */
  get address(): SocketAddress {
    if (this.#address === undefined) throw new ServerClosedError('Cannot read the address: the server is not bound')
    return this.#address
  }

  /** Whether {@link StreamServer.close} was called. */
  get closed(): boolean {
    return this.#state === 'closed'
  }

  /** The listen backlog asked of the kernel (which may clamp it). */
  get backlog(): number {
    return this.#backlog
  }

  /** Connections accepted and waiting for a consumer. */
  get pendingConnections(): number {
    return this.#queue.size
  }

  /**
   * Binds the address and starts listening (Python's `server_bind()`; Node
   * cannot bind a stream socket without listening, so connections arriving
   * before {@link StreamServer.activate} wait, paused, in the bounded queue).
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
    // allowHalfOpen: a client that ends its side still gets the whole reply;
    // we end ours in request.close().
    const netServer = net.createServer({ pauseOnConnect: true, allowHalfOpen: true })
    try {
      await this.listenOn(netServer, this.#backlog)
    } catch (error) {
      this.#state = 'closed'
      netServer.close()
      throw error
    }
    this.#netServer = netServer
    this.#address = this.describe(netServer)
    netServer.on('connection', (socket: net.Socket) => this.#accept(socket))
    // After listening, 'error' means accept() failed (EMFILE, ENFILE, ...):
    // libuv keeps listening, so report and go on.
    netServer.on('error', (error) => channels.serverAcceptError.publish({ server: this, error }))
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    if (this.#signal?.aborted) this.#onAbort()
  }

  /**
   * Starts handing accepted connections to iterators (Python's
   * `server_activate()`).
   *
   * @throws ServerClosedError unless the server is bound and not closed.
   */
  activate(): void {
    if (this.#state !== 'bound') throw new ServerClosedError(`Cannot activate the server: it is ${this.#state}`)
    this.#state = 'active'
    channels.serverListen.publish({ server: this })
  }

  /** The listening socket's file descriptor, or -1 before bind and after close. */
  fileno(): number {
    const handle = (this.#netServer as unknown as { _handle?: { fd?: number } } | undefined)?._handle
    return this.#state === 'closed' ? -1 : (handle?.fd ?? -1)
  }

  /**
   * Stops listening, ends every iteration with `done`, frees the address.
   * Connections accepted but never handed out are closed and counted on
   * `socketserver:server:close`. Requests already handed out are not
   * touched. Idempotent.
   *
   * Abort behaviour: not abortable; it completes promptly.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#state = 'closed'
    this.#signal?.removeEventListener('abort', this.#onAbort)
    const dropped = this.#queue.end()
    for (const connection of dropped) connection.abort()
    const netServer = this.#netServer
    if (netServer !== undefined) {
      // The listening descriptor closes synchronously here; the callback
      // would wait for every open connection, which is not ours to wait for.
      await this.closeListener(netServer)
      await new Promise<void>((resolve) => setImmediate(resolve))
      await this.afterClose()
    }
    channels.serverClose.publish({ server: this, dropped: dropped.length })
  }

  /** Closes the server; for `await using server = await TCPServer.listen(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Yields each accepted connection as a {@link StreamRequest}, in accept
   * order, until the server closes. While nobody pulls, connections wait
   * paused in a bounded queue (see {@link DEFAULT_MAX_PENDING_CONNECTIONS}).
   * Several iterators may share a server; each connection goes to one.
   */
  [Symbol.asyncIterator](): AsyncIterator<StreamRequest, undefined> {
    if (this.#state === 'new' || this.#state === 'bound') {
      throw new ServerClosedError(`Cannot iterate the server: it is ${this.#state}, call activate() first`)
    }
    return this.#queue[Symbol.asyncIterator]()
  }

  #accept(socket: net.Socket): void {
    const connection = new StreamConnection(socket, this.peerAddress(socket), this)
    if (this.#queue.push(connection)) return
    const address = connection.clientAddress
    channels.serverDrop.publish({ server: this, error: new OverflowError(address, this.#queue.limit, formatAddress(address)) })
    connection.abort()
  }

  /** Listens `netServer` on the subclass's address; rejects with a BindError. */
  protected abstract listenOn(netServer: net.Server, backlog: number): Promise<void>
  /** The server's own address once listening. */
  protected abstract describe(netServer: net.Server): SocketAddress
  /** The address of an accepted connection's peer. */
  protected abstract peerAddress(socket: net.Socket): SocketAddress
  /** Closes the listening socket; the descriptor is released synchronously. */
  protected async closeListener(netServer: net.Server): Promise<void> {
    netServer.close()
  }
  /** Clean-up after the listener closed (the Unix server removes its file). */
  protected async afterClose(): Promise<void> {}
}

/**
 * Validates an integer option that must be 1 or more.
 *
 * @internal
 */
export function positiveInteger(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `Cannot use ${option} ${JSON.stringify(value)}: expected an integer of 1 or more`)
  }
  return value
}

/**
 * Validates an integer option that must be 0 or more.
 *
 * @internal
 */
export function nonNegativeInteger(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(option, `Cannot use ${option} ${JSON.stringify(value)}: expected an integer of 0 or more`)
  }
  return value
}

/**
 * Listens and turns a failure into whatever `toError` makes of it.
 *
 * @internal
 */
export function listen(netServer: net.Server, options: net.ListenOptions, toError: (error: unknown) => Error): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: unknown): void => reject(toError(error))
    netServer.once('error', onError)
    netServer.listen(options, () => {
      netServer.off('error', onError)
      resolve()
    })
  })
}
