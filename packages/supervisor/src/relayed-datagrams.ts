/**
 * A worker's side of a Unix datagram listener: Node cannot adopt an
 * inherited Unix datagram socket, so the supervisor reads it and relays
 * each datagram here over IPC, and each reply back.
 *
 * @module
 */

import {
  type DatagramRequest,
  ReplyError,
  type Request,
  type RequestIterator,
  type Server,
  ServerStoppingError,
  type SocketAddress,
} from '@socketserver/core'
import type { FromWorker, ToWorker } from './protocol.js'

/** How the worker talks to its supervisor. */
export interface RelayChannel {
  send(message: FromWorker): void
}

/** One relayed datagram, served here, answered through the supervisor. */
class RelayedDatagram implements DatagramRequest {
  readonly kind = 'datagram'
  readonly data: Uint8Array
  readonly clientAddress: SocketAddress
  readonly server: Server<Request>
  readonly #abort = new AbortController()
  readonly #stop = new AbortController()
  /** The supervisor's number for it. */
  readonly id: number
  readonly #relay: DatagramRelayServer
  #closed = false

  constructor(id: number, data: Uint8Array, from: SocketAddress, relay: DatagramRelayServer) {
    this.id = id
    this.data = data
    this.clientAddress = from
    this.server = relay
    this.#relay = relay
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }

  get stopping(): AbortSignal {
    return this.#stop.signal
  }

  reply(data: Uint8Array | string): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ReplyError(
          this.clientAddress,
          'Cannot reply: the request ended (replies are relayed only while it runs)',
          'SS_ERR_REQUEST_ENDED',
        ),
      )
    }
    return this.#relay.reply(this.id, typeof data === 'string' ? Buffer.from(data) : data, this.clientAddress)
  }

  stop(reason?: unknown): void {
    if (!this.#stop.signal.aborted) this.#stop.abort(reason ?? new ServerStoppingError())
  }

  abort(reason?: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#relay.done(this.id)
  }
}

/**
 * The datagrams the supervisor relays for one Unix datagram listener, as a
 * server: `serve()` and every policy take it like any other.
 */
export class DatagramRelayServer implements Server<DatagramRequest> {
  readonly address: SocketAddress
  readonly #index: number
  readonly #channel: RelayChannel
  readonly #queue: RelayedDatagram[] = []
  readonly #waiting: Array<(result: IteratorResult<DatagramRequest, undefined>) => void> = []
  readonly #replies = new Map<number, { resolve: () => void; reject: (error: Error) => void; to: SocketAddress }>()
  #nextReply = 0
  #closed = false
  #takingNoMore = false
  readonly #onClose: () => void

  /**
   * @param index - The listener's place in the supervisor's list.
   * @param address - Its address (a path).
   * @param channel - The IPC channel to the supervisor.
   * @param onClose - Called once, when it closes.
   */
  constructor(index: number, address: SocketAddress, channel: RelayChannel, onClose: () => void) {
    this.#index = index
    this.address = address
    this.#channel = channel
    this.#onClose = onClose
  }

  get closed(): boolean {
    return this.#closed
  }

  fileno(): number {
    return -1
  }

  /** A message from the supervisor for this listener. @internal */
  receive(message: ToWorker): void {
    if (message.type === 'datagram') {
      if (this.#closed || this.#takingNoMore) {
        this.#channel.send({ type: 'datagram-returned', id: message.id })
        return
      }
      const request = new RelayedDatagram(message.id, Buffer.from(message.data), message.from, this)
      const waiter = this.#waiting.shift()
      if (waiter !== undefined) waiter({ done: false, value: request })
      else this.#queue.push(request)
    } else if (message.type === 'reply-result') {
      const pending = this.#replies.get(message.seq)
      if (pending === undefined) return
      this.#replies.delete(message.seq)
      if (message.error === undefined) pending.resolve()
      else pending.reject(new ReplyError(pending.to, `Cannot reply to the datagram: ${message.error}`, 'SS_ERR_REPLY'))
    }
  }

  /** Sends a reply through the supervisor; settles as its send does there. @internal */
  reply(id: number, data: Uint8Array, to: SocketAddress): Promise<void> {
    const seq = ++this.#nextReply
    return new Promise((resolve, reject) => {
      this.#replies.set(seq, { resolve, reject, to })
      this.#channel.send({ type: 'reply', listener: this.#index, id, seq, data })
    })
  }

  /** A request ended: the supervisor's relay of it may end too. @internal */
  done(id: number): void {
    this.#channel.send({ type: 'datagram-done', id })
  }

  [Symbol.asyncIterator](): RequestIterator<DatagramRequest> {
    return {
      next: () => {
        const queued = this.#queue.shift()
        if (queued !== undefined) return Promise.resolve({ done: false, value: queued })
        if (this.#closed || this.#takingNoMore) return Promise.resolve({ done: true, value: undefined })
        return new Promise((resolve) => this.#waiting.push(resolve))
      },
      // The consumer stops taking (serve() stopping): a pull it left
      // pending takes nothing, and what comes from now on goes back to the
      // supervisor, for another worker.
      return: async () => {
        this.#giveBack()
        return { done: true, value: undefined }
      },
    }
  }

  /** Takes no more: pending pulls end, queued and later datagrams are given back. */
  #giveBack(): void {
    this.#takingNoMore = true
    for (const waiter of this.#waiting.splice(0)) waiter({ done: true, value: undefined })
    for (const request of this.#queue.splice(0)) this.#channel.send({ type: 'datagram-returned', id: request.id })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#onClose()
    // Datagrams relayed but not taken: given back, for another worker.
    this.#giveBack()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
