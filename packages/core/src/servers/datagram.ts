/**
 * The request object for one received datagram.
 *
 * @module
 */

import type { SocketAddress } from '../address.js'
import { ServerStoppingError } from '../errors.js'
import { AbortState } from '../internal/abort-state.js'
import { ABORT_STATE, NOTHING_TO_CLOSE } from '../internal/fast-paths.js'
import type { DatagramRequest, Request, Server } from '../types.js'

/** Sends one datagram to a peer from the server's socket. */
export type SendDatagram = (data: Uint8Array, to: SocketAddress) => Promise<void>

/**
 * A {@link DatagramRequest}: the data, the sender, and a way to reply.
 *
 * @internal Built by the datagram servers.
 */
export class Datagram implements DatagramRequest {
  readonly kind = 'datagram' as const
  readonly data: Uint8Array
  readonly clientAddress: SocketAddress
  readonly server: Server<Request>
  readonly #send: SendDatagram
  readonly [ABORT_STATE] = new AbortState()

  constructor(data: Uint8Array, clientAddress: SocketAddress, server: Server<Request>, send: SendDatagram) {
    this.data = data
    this.clientAddress = clientAddress
    this.server = server
    this.#send = send
  }

  get signal(): AbortSignal {
    return this[ABORT_STATE].signal
  }

  reply(data: Uint8Array | string): Promise<void> {
    return this.#send(typeof data === 'string' ? Buffer.from(data) : data, this.clientAddress)
  }

  /** A datagram has no connection to shut down: nothing to do. */
  close(): Promise<void> {
    return NOTHING_TO_CLOSE
  }

  get stopping(): AbortSignal {
    return this[ABORT_STATE].stopping
  }

  /** Aborts `stopping`: the datagram's handler learns that serving is stopping. */
  stop(reason?: unknown): void {
    this[ABORT_STATE].beginStop(reason ?? new ServerStoppingError())
  }

  abort(reason?: unknown): void {
    this[ABORT_STATE].abort(reason)
  }
}
