/**
 * The supervisor's side of a Unix datagram listener: it binds the socket
 * and serves it by relaying each datagram to a worker (Node cannot adopt an
 * inherited Unix datagram socket, so the workers cannot share it), and each
 * of the worker's replies back out of the socket.
 *
 * @module
 * @internal
 */

import { type DatagramRequest, pooled, type SocketAddress, serve, UnixDatagramServer } from '@socketserver/core'
import { ReturnedDatagram } from './worker-process.js'

/** A worker that can serve a relayed datagram: resolves when it was served. */
export interface DatagramTarget {
  relayDatagram(listener: number, request: DatagramRequest): Promise<void>
}

/** How many relayed datagrams may be in flight at once, over all workers. */
const RELAYED_AT_ONCE = 1_024

/** How long a relayed datagram waits for a worker to serve it when none does, before it is dropped and reported. */
const WAIT_FOR_WORKER_MS = 10_000

/**
 * The first worker `pick` finds serving, asked again every 10 ms; rejects
 * after {@link WAIT_FOR_WORKER_MS}, when the request's `signal` aborts, or
 * when the relay is stopping (`stopping`: no worker will take it then).
 */
async function waitForServing(pick: () => DatagramTarget | undefined, signal: AbortSignal, stopping: AbortSignal): Promise<DatagramTarget> {
  const deadline = Date.now() + WAIT_FOR_WORKER_MS
  for (;;) {
    const target = pick()
    if (target !== undefined) return target
    signal.throwIfAborted()
    if (stopping.aborted) throw new Error('Cannot relay the datagram: serving stopped before a worker took it')
    if (Date.now() > deadline) throw new Error(`Cannot relay the datagram: no worker was serving within ${WAIT_FOR_WORKER_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** One Unix datagram listener, served by relaying. */
export class DatagramRelay {
  readonly #server: UnixDatagramServer
  readonly #stop = new AbortController()
  readonly #serving: Promise<void>
  #closing: Promise<void> | undefined

  private constructor(
    server: UnixDatagramServer,
    index: number,
    pick: () => DatagramTarget | undefined,
    onError: (error: unknown) => void,
    drainTimeoutMs: number,
  ) {
    this.#server = server
    this.#serving = serve(
      server,
      async (request: DatagramRequest) => {
        for (;;) {
          // None serving (at the start, or the only one crashed): wait for one, within reason.
          const target = pick() ?? (await waitForServing(pick, request.signal, this.#stop.signal))
          try {
            return await target.relayDatagram(index, request)
          } catch (error) {
            // Given back untaken by a worker that is stopping (or gone): to
            // another, after a turn of the event loop (so a worker's end is read first).
            if (!(error instanceof ReturnedDatagram)) throw error
            await new Promise((resolve) => setImmediate(resolve))
          }
        }
      },
      { signal: this.#stop.signal, policy: pooled({ concurrency: RELAYED_AT_ONCE }), handleError: onError, drainTimeoutMs },
    ).catch(onError)
  }

  /**
   * Binds `listener.path` and starts relaying its datagrams to the workers
   * `pick` chooses; a datagram that cannot be served is passed to
   * `onError`. A stop lets relays in flight finish within `drainTimeoutMs`.
   */
  static async bind(
    listener: { path: string; maxPacketSize?: number },
    index: number,
    pick: () => DatagramTarget | undefined,
    onError: (error: unknown) => void,
    drainTimeoutMs: number,
  ): Promise<DatagramRelay> {
    const server = await UnixDatagramServer.bind({ path: listener.path, maxPacketSize: listener.maxPacketSize })
    return new DatagramRelay(server, index, pick, onError, drainTimeoutMs)
  }

  get address(): SocketAddress {
    return this.#server.address
  }

  /** Stops relaying (datagrams in flight finish) and closes the socket, removing its file. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort()
      await this.#serving
      await this.#server.close()
    })()
    return this.#closing
  }
}
