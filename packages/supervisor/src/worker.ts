/**
 * The worker's side: the listeners a supervisor passed in, its stop, and
 * telling it that serving started.
 *
 * @module
 */

import {
  type InheritedServerOptions,
  type Server,
  type SocketAddress,
  type SocketRequest,
  serverFromFd,
  UnixStreamServer,
} from '@socketserver/core'
import { type FromWorker, SUPERVISED_ENV, type ToWorker, type WorkerSetup } from './protocol.js'
import { DatagramRelayServer } from './relayed-datagrams.js'

/** A worker process's view of its supervisor. */
export interface SupervisedWorker {
  /** The listeners, in the supervisor's order: each an inherited descriptor and the address it is bound to. */
  readonly listeners: ReadonlyArray<{ readonly fd: number; readonly address: SocketAddress }>
  /**
   * Aborts when the worker is to stop: the supervisor asked (a rolling
   * restart replaced it, or serving stops), or the supervisor is gone.
   * Pass it to `serve()` as its `signal`.
   */
  readonly signal: AbortSignal
  /**
   * Makes a server of each listener (`fromFd()` of its kind; for a Unix
   * datagram listener, one the supervisor relays datagrams to), in order.
   */
  servers(options?: InheritedServerOptions): Promise<Array<Server<SocketRequest>>>
  /** The server of listener `index` alone (see {@link SupervisedWorker.servers}). */
  server(index: number, options?: InheritedServerOptions): Promise<Server<SocketRequest>>
  /** Tells the supervisor that this worker serves: call it once `serve()` runs on every listener. */
  ready(): void
  /** Tells the supervisor that this worker cannot serve, and why (it then exits). */
  failed(message: string): void
}

let joined: SupervisedWorker | undefined

/**
 * This process as a supervisor's worker, or `undefined` when no supervisor
 * started it. The IPC channel to the supervisor does not keep the process
 * alive: it exits once its servers are closed.
 *
 * @returns The worker's listeners, stop signal and readiness report.
 * @example
 * ```ts
 * const worker = supervisedWorker()
 * if (worker !== undefined) {
 *   const servers = await worker.servers()
 *   const serving = servers.map((server) => serve(server, handler, { signal: worker.signal }))
 *   worker.ready()
 *   await Promise.all(serving)
 * }
 * ```
 */
export function supervisedWorker(): SupervisedWorker | undefined {
  if (joined !== undefined) return joined
  const text = process.env[SUPERVISED_ENV]
  if (text === undefined || process.send === undefined) return undefined
  const setup = JSON.parse(text) as WorkerSetup
  // The worker's own children are not the supervisor's workers.
  delete process.env[SUPERVISED_ENV]
  const stop = new AbortController()
  const relays = new Map<number, DatagramRelayServer>()
  process.on('message', (message: ToWorker) => {
    if (message?.type === 'stop') stop.abort()
    else if (message?.type === 'datagram' || message?.type === 'reply-result') relays.get(message.listener)?.receive(message)
  })
  // The supervisor died (or let go): stop too, so nothing is left running.
  process.once('disconnect', () => stop.abort())
  const channel = process.channel as { ref?: () => void; unref?: () => void } | undefined
  channel?.unref?.()
  let openRelays = 0
  const send = (message: FromWorker): void => {
    if (process.connected) process.send?.(message)
  }
  const serverAt = async (index: number, options: InheritedServerOptions): Promise<Server<SocketRequest>> => {
    const listener = setup.listeners[index]
    if (listener === undefined) throw new RangeError(`Cannot make the server of listener ${index}: there are ${setup.listeners.length}`)
    const { fd, address } = listener
    if (fd === -1) {
      let relay = relays.get(index)
      if (relay === undefined) {
        // Its datagrams come over the channel: while one is open, the channel keeps this process alive.
        if (openRelays++ === 0) channel?.ref?.()
        relay = new DatagramRelayServer(index, address, { send }, () => {
          if (--openRelays === 0) channel?.unref?.()
        })
        relays.set(index, relay)
      }
      return relay
    }
    // The path as the supervisor bound it (the kernel's view of it may be relative).
    if (address.transport === 'unix' && address.path !== null) return UnixStreamServer.fromFd(fd, { ...options, path: address.path })
    return serverFromFd(fd, options, address.transport)
  }
  joined = {
    listeners: setup.listeners,
    signal: stop.signal,
    async servers(options = {}) {
      const servers: Array<Server<SocketRequest>> = []
      try {
        for (const index of setup.listeners.keys()) servers.push(await serverAt(index, options))
      } catch (error) {
        await Promise.all(servers.map((server) => server.close()))
        throw error
      }
      return servers
    },
    server: (index, options = {}) => serverAt(index, options),
    ready: () => send({ type: 'ready' }),
    failed: (message) => send({ type: 'failed', message }),
  }
  return joined
}
