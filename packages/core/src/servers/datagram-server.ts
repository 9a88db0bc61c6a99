/**
 * What UDP and Unix datagram servers share: received datagrams become
 * {@link DatagramRequest}s, pulled through a bounded queue; oversized ones
 * are dropped whole and reported.
 *
 * @module
 */

import { formatAddress, type SocketAddress } from '../address.js'
import { DatagramTooLargeError, InvalidOptionError } from '../errors.js'
import { nonNegativeInteger, positiveInteger } from '../internal/option-checks.js'
import type { DatagramRequest } from '../types.js'
import { Datagram } from './datagram.js'
import { QueuedServer, type QueuedServerOptions, type ServerStats } from './queued-server.js'

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

/**
 * Options every datagram server takes; `slowWaitMs` and `maxWaitMs` (from
 * {@link QueuedServerOptions}) bound how long a received datagram waits for
 * a free slot (past `maxWaitMs` it is dropped, never answered late).
 */
export interface DatagramServerOptions extends QueuedServerOptions {
  /** The largest datagram served. Default {@link DEFAULT_MAX_PACKET_SIZE}. */
  maxPacketSize?: number
  /** Datagrams kept while nobody pulls. Default {@link DEFAULT_MAX_PENDING_DATAGRAMS}. */
  maxPendingDatagrams?: number
}

/** What a datagram server received, and what it dropped and why. */
export interface DatagramServerStats extends ServerStats {
  /** Dropped because they were larger than `maxPacketSize`. */
  oversized: number
}

/**
 * The shared machinery of {@link UDPServer} and {@link UnixDatagramServer}.
 * Subclasses open, send on and close the socket.
 */
export abstract class DatagramServer extends QueuedServer<DatagramRequest> {
  #oversized = 0
  /** The largest datagram served. */
  readonly maxPacketSize: number
  readonly #receiveLimit: number
  readonly #send = (data: Uint8Array, to: SocketAddress): Promise<void> => this.sendTo(data, to)

  /**
   * @param options - Packet size and queue options.
   * @param receiveLimit - The most bytes one receive can return on this
   *   transport. A datagram of that length may have been cut short, so
   *   `maxPacketSize` must stay below it and such a datagram is dropped.
   */
  protected constructor(options: DatagramServerOptions, receiveLimit: number) {
    super(options, nonNegativeInteger('maxPendingDatagrams', options.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS), 'datagram')
    this.#receiveLimit = receiveLimit
    this.maxPacketSize = positiveInteger('maxPacketSize', options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE)
    if (this.maxPacketSize >= receiveLimit) {
      throw new InvalidOptionError(
        'maxPacketSize',
        `Cannot use maxPacketSize ${this.maxPacketSize}: this transport receives datagrams whole only up to ${receiveLimit - 1} bytes`,
      )
    }
  }

  /**
   * Hands out no more datagrams (every iteration ends with `done`; those
   * queued or arriving are dropped and counted) but keeps the socket, so
   * requests still running can reply through it. `serve()` calls it when it
   * stops and closes the server once they have ended; a loop of your own
   * calls {@link QueuedServer.close} after it. Idempotent.
   *
   * @example
   * ```ts
   * server.stopAccepting()
   * await Promise.all(running) // their replies still go out
   * await server.close()
   * ```
   */
  stopAccepting(): void {
    this.stopHandingOut()
  }

  /** Datagrams received and waiting for a consumer. */
  get pendingDatagrams(): number {
    return this.queued
  }

  /** What was received, and what was dropped and why. */
  override get stats(): Readonly<DatagramServerStats> {
    return { ...super.stats, oversized: this.#oversized }
  }

  protected override open(): Promise<SocketAddress> {
    return this.openSocket((data, from) => this.#receive(data, from))
  }

  #receive(data: Uint8Array, from: SocketAddress): void {
    if (this.closed) return
    if (data.length > this.maxPacketSize) {
      this.#oversized++
      const size = data.length >= this.#receiveLimit ? undefined : data.length
      const sizeText = size === undefined ? `at least ${data.length}` : String(size)
      const error = new DatagramTooLargeError(
        `Cannot serve the datagram from ${formatAddress(from)}: it is ${sizeText} bytes, more than maxPacketSize ${this.maxPacketSize}, so it was dropped whole`,
        { size, limit: this.maxPacketSize, clientAddress: from },
      )
      this.reportDrop(error)
      return
    }
    this.offer(new Datagram(data, from, this, this.#send))
  }

  /**
   * Opens and binds the socket, calling `receive` for every datagram.
   *
   * @returns The bound address.
   */
  protected abstract openSocket(receive: (data: Uint8Array, from: SocketAddress) => void): Promise<SocketAddress>
  /** Sends one datagram from the server's socket. */
  protected abstract sendTo(data: Uint8Array, to: SocketAddress): Promise<void>
}
