/**
 * What UDP and Unix datagram servers share: received datagrams become
 * {@link DatagramRequest}s, pulled through a bounded queue; oversized ones
 * are dropped whole and reported.
 *
 * @module
 */

import { formatAddress, type SocketAddress } from '../address.js'
import { channels } from '../diagnostics.js'
import { DatagramTooLargeError, InvalidOptionError, OverflowError, ServerClosedError } from '../errors.js'
import type { AbortOptions, DatagramRequest, Server } from '../types.js'
import { AcceptQueue } from './accept-queue.js'
import { Datagram } from './datagram.js'
import { nonNegativeInteger, positiveInteger } from './stream-server.js'

/**
 * The largest datagram accepted by default: 65,507 bytes, the most a UDP
 * datagram over IPv4 can carry (65,535 less the IP and UDP headers).
 * Python's `max_packet_size` is 8,192 and it silently truncates anything
 * longer; here nothing is ever truncated: a larger datagram is dropped whole
 * and reported as a `DatagramTooLargeError`.
 */
export const DEFAULT_MAX_PACKET_SIZE = 65_507

/**
 * How many received datagrams may wait for a consumer by default. Node
 * offers no way to stop reading a datagram socket, so while nobody pulls,
 * datagrams wait in this bounded queue (at most 256 × 64 KiB = 16 MiB);
 * beyond it they are dropped, counted and reported as an `OverflowError`,
 * as the kernel would drop them from a full receive buffer.
 */
export const DEFAULT_MAX_PENDING_DATAGRAMS = 256

/** Options every datagram server takes. */
export interface DatagramServerOptions extends AbortOptions {
  /** The largest datagram served. Default {@link DEFAULT_MAX_PACKET_SIZE}. */
  maxPacketSize?: number
  /** Datagrams kept while nobody pulls. Default {@link DEFAULT_MAX_PENDING_DATAGRAMS}. */
  maxPendingDatagrams?: number
}

/** Counts of datagrams a server did not hand out. */
export interface DatagramServerStats {
  /** Datagrams handed to consumers or queued for them. */
  received: number
  /** Dropped because they were larger than `maxPacketSize`. */
  oversized: number
  /** Dropped because `maxPendingDatagrams` were waiting. */
  overflowed: number
}

type State = 'new' | 'bound' | 'active' | 'closed'

/**
 * The shared machinery of {@link UDPServer} and {@link UnixDatagramServer}.
 * Subclasses open, send on and close the socket.
 */
export abstract class DatagramServer implements Server<DatagramRequest> {
  readonly #queue: AcceptQueue<Datagram>
  readonly #signal: AbortSignal | undefined
  readonly #stats: DatagramServerStats = { received: 0, oversized: 0, overflowed: 0 }
  /** The largest datagram served. */
  readonly maxPacketSize: number
  readonly #receiveLimit: number
  #state: State = 'new'
  #address: SocketAddress | undefined
  #closing: Promise<void> | undefined
  readonly #onAbort = (): void => void this.close()
  readonly #send = (data: Uint8Array, to: SocketAddress): Promise<void> => this.sendTo(data, to)

  /**
   * @param options - Packet size and queue options.
   * @param receiveLimit - The most bytes one receive can return on this
   *   transport. A datagram of that length may have been cut short, so
   *   `maxPacketSize` must stay below it and such a datagram is dropped.
   */
  protected constructor(options: DatagramServerOptions, receiveLimit: number) {
    this.#receiveLimit = receiveLimit
    this.maxPacketSize = positiveInteger('maxPacketSize', options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE)
    if (this.maxPacketSize >= receiveLimit) {
      throw new InvalidOptionError(
        'maxPacketSize',
        `Cannot use maxPacketSize ${this.maxPacketSize}: this transport receives datagrams whole only up to ${receiveLimit - 1} bytes`,
      )
    }
    const limit = nonNegativeInteger('maxPendingDatagrams', options.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS)
    this.#queue = new AcceptQueue(limit)
    this.#signal = options.signal
  }

  /** Where the server receives. Throws before {@link DatagramServer.bind}. */
  get address(): SocketAddress {
    if (this.#address === undefined) throw new ServerClosedError('Cannot read the address: the server is not bound')
    return this.#address
  }

  /** Whether {@link DatagramServer.close} was called. */
  get closed(): boolean {
    return this.#state === 'closed'
  }

  /** Datagrams received and waiting for a consumer. */
  get pendingDatagrams(): number {
    return this.#queue.size
  }

  /** What was received, and what was dropped and why. */
  get stats(): Readonly<DatagramServerStats> {
    return { ...this.#stats }
  }

  /**
   * Binds the address (Python's `server_bind()`); datagrams arriving before
   * {@link DatagramServer.activate} wait in the bounded queue.
   *
   * Abort behaviour: an aborted `options.signal` rejects before binding;
   * aborting it later closes the server.
   *
   * @throws BindError (and subclasses) with the system code; ServerClosedError
   *   when already bound or closed.
   */
  async bind(): Promise<void> {
    if (this.#state !== 'new') throw new ServerClosedError(`Cannot bind the server: it is ${this.#state}`)
    this.#signal?.throwIfAborted()
    this.#state = 'bound'
    try {
      this.#address = await this.open((data, from) => this.#receive(data, from))
    } catch (error) {
      this.#state = 'closed'
      throw error
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    if (this.#signal?.aborted) this.#onAbort()
  }

  /**
   * Starts handing datagrams to iterators (Python's `server_activate()`,
   * which does nothing for UDP).
   *
   * @throws ServerClosedError unless bound and not closed.
   */
  activate(): void {
    if (this.#state !== 'bound') throw new ServerClosedError(`Cannot activate the server: it is ${this.#state}`)
    this.#state = 'active'
    channels.serverListen.publish({ server: this })
  }

  /** The socket's file descriptor, or -1 when there is none (or it is not exposed). */
  fileno(): number {
    return this.#state === 'closed' ? -1 : this.descriptor()
  }

  /**
   * Closes the socket, ends every iteration with `done`, removes a Unix
   * socket file we created. Datagrams still queued are dropped and counted
   * on `socketserver:server:close`. Idempotent.
   *
   * Abort behaviour: not abortable; it completes promptly.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state !== 'new'
    this.#state = 'closed'
    this.#signal?.removeEventListener('abort', this.#onAbort)
    const dropped = this.#queue.end()
    if (wasOpen && this.#address !== undefined) await this.shut()
    channels.serverClose.publish({ server: this, dropped: dropped.length })
  }

  /** Closes the server; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Yields each received datagram as a {@link DatagramRequest}, in arrival
   * order, until the server closes.
   */
  [Symbol.asyncIterator](): AsyncIterator<DatagramRequest, undefined> {
    if (this.#state === 'new' || this.#state === 'bound') {
      throw new ServerClosedError(`Cannot iterate the server: it is ${this.#state}, call activate() first`)
    }
    return this.#queue[Symbol.asyncIterator]()
  }

  #receive(data: Uint8Array, from: SocketAddress): void {
    if (this.#state === 'closed') return
    if (data.length > this.maxPacketSize) {
      this.#stats.oversized++
      const size = data.length >= this.#receiveLimit ? undefined : data.length
      const sizeText = size === undefined ? `at least ${data.length}` : String(size)
      const error = new DatagramTooLargeError(
        `Cannot serve the datagram from ${formatAddress(from)}: it is ${sizeText} bytes, more than maxPacketSize ${this.maxPacketSize}, so it was dropped whole`,
        { size, limit: this.maxPacketSize, clientAddress: from },
      )
      channels.serverDrop.publish({ server: this, error })
      return
    }
    if (this.#queue.push(new Datagram(data, from, this, this.#send))) {
      this.#stats.received++
      return
    }
    this.#stats.overflowed++
    channels.serverDrop.publish({ server: this, error: new OverflowError(from, this.#queue.limit, formatAddress(from)) })
  }

  /**
   * Opens and binds the socket, calling `receive` for every datagram.
   *
   * @returns The bound address.
   */
  protected abstract open(receive: (data: Uint8Array, from: SocketAddress) => void): Promise<SocketAddress>
  /** Sends one datagram from the server's socket. */
  protected abstract sendTo(data: Uint8Array, to: SocketAddress): Promise<void>
  /** Closes the socket and cleans up. */
  protected abstract shut(): Promise<void>
  /** The socket's descriptor, or -1. */
  protected abstract descriptor(): number
}
