/**
 * What TCP and Unix stream servers share: a `net.Server` whose accepted
 * connections become {@link StreamRequest}s, pulled through a bounded queue.
 *
 * @module
 */

import net from 'node:net'
import type { SocketAddress } from '../address.js'
import { nonNegativeInteger, positiveInteger } from '../internal/option-checks.js'
import type { StreamRequest } from '../types.js'
import { DescriptorWatch } from './descriptor-watch.js'
import { QueuedServer, type QueuedServerOptions } from './queued-server.js'
import { type PeerAddress, StreamConnection } from './stream-connection.js'

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

/**
 * Options every stream server takes; `slowWaitMs` and `maxWaitMs` (from
 * {@link QueuedServerOptions}) bound how long an accepted connection waits,
 * paused, for a free slot.
 */
export interface StreamServerOptions extends QueuedServerOptions {
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

/**
 * The shared machinery of {@link TCPServer} and {@link UnixStreamServer}.
 * Subclasses say how to listen and how to name peers.
 */
export abstract class StreamServer extends QueuedServer<StreamRequest> {
  readonly #backlog: number
  #netServer: net.Server | undefined
  readonly #descriptors = new DescriptorWatch((error) => this.reportAcceptError(error))

  protected constructor(options: StreamServerOptions) {
    const limit = options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS
    super(options, nonNegativeInteger('maxPendingConnections', limit), 'connection')
    this.#backlog = positiveInteger('backlog', options.backlog ?? DEFAULT_BACKLOG)
  }

  /** The listen backlog asked of the kernel (which may clamp it). */
  get backlog(): number {
    return this.#backlog
  }

  /** Whether accepted connections get TCP_NODELAY (set by the kernel handle at accept); TCP servers say. */
  protected get noDelay(): boolean {
    return false
  }

  /** Connections accepted and waiting for a consumer, paused. */
  get pendingConnections(): number {
    return this.queued
  }

  /**
   * Binds the address and listens. Node cannot bind a stream socket without
   * listening, so connections arriving before `activate()` wait, paused, in
   * the bounded queue.
   */
  protected override async open(): Promise<SocketAddress> {
    // allowHalfOpen: a client that ends its side still gets the whole reply;
    // we end ours in request.close().
    const netServer = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: this.noDelay })
    try {
      await this.listenOn(netServer, this.#backlog)
    } catch (error) {
      netServer.close()
      throw error
    }
    this.#netServer = netServer
    netServer.on('connection', (socket: net.Socket) => {
      this.offer(new StreamConnection(socket, this.peerAddress(socket), this))
    })
    // After listening, 'error' means accept() failed (EMFILE, ENFILE, ...):
    // libuv keeps listening, so report and go on.
    netServer.on('error', (error) => this.reportAcceptError(error))
    // libuv hides EMFILE on accept (see DescriptorWatch): probe for it.
    this.#descriptors.start()
    return this.describe(netServer)
  }

  protected override async shut(): Promise<void> {
    const netServer = this.#netServer
    if (netServer === undefined) return
    this.#descriptors.stop()
    // The listening descriptor closes synchronously here; close()'s callback
    // would wait for every open connection, which is not ours to wait for.
    await this.closeListener(netServer)
    await new Promise<void>((resolve) => setImmediate(resolve))
    await this.afterClose()
  }

  protected override descriptor(): number {
    const handle = (this.#netServer as unknown as { _handle?: { fd?: number } } | undefined)?._handle
    return handle?.fd ?? -1
  }

  /** Listens `netServer` on the subclass's address; rejects with a BindError. */
  protected abstract listenOn(netServer: net.Server, backlog: number): Promise<void>
  /** The server's own address once listening. */
  protected abstract describe(netServer: net.Server): SocketAddress
  /** The address of an accepted connection's peer. */
  protected abstract peerAddress(socket: net.Socket): PeerAddress
  /** Closes the listening socket; the descriptor is released synchronously. */
  protected async closeListener(netServer: net.Server): Promise<void> {
    netServer.close()
  }
  /** Clean-up after the listener closed (the Unix server removes its file). */
  protected async afterClose(): Promise<void> {}
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
