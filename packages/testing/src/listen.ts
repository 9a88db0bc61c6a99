/**
 * Server fixtures: bind on loopback, clean up with the test.
 *
 * @module
 */

import {
  type DatagramServer,
  type DatagramServerOptions,
  type Handler,
  type Request,
  type ServeOptions,
  type Server,
  type StreamServer,
  serve,
  TCPServer,
  type TCPServerOptions,
  UDPServer,
  UnixDatagramServer,
  UnixStreamServer,
  type UnixStreamServerOptions,
} from '@socketserver/core'
import { registerCleanup } from './cleanup.js'
import { tempSocketPath } from './temp-socket-path.js'

/** The stream transports a fixture can make: TCP over IPv4, TCP over IPv6, Unix. */
export type StreamTransportName = 'tcp4' | 'tcp6' | 'unix'

/** Every stream transport, for matrices. */
export const STREAM_TRANSPORTS: readonly StreamTransportName[] = ['tcp4', 'tcp6', 'unix']

/** Options of {@link listen}: the server options of that transport, minus the address. */
export type ListenFixtureOptions = Omit<TCPServerOptions, 'host' | 'port'> & Omit<UnixStreamServerOptions, 'path'>

/**
 * Starts a server on loopback: `tcp4` binds `127.0.0.1:0`, `tcp6` binds
 * `[::1]:0`, `unix` a socket in a fresh temporary directory. Inside a test it
 * is closed when the test finishes.
 *
 * @param transport - Which transport. Default `tcp4`.
 * @param options - Extra server options (backlog, maxPendingConnections, mode...).
 * @returns The listening server.
 * @example
 * ```ts
 * const server = await listen('unix')
 * const client = await connect(server.address)
 * ```
 */
export async function listen(transport: StreamTransportName = 'tcp4', options: ListenFixtureOptions = {}): Promise<StreamServer> {
  const server =
    transport === 'unix'
      ? await UnixStreamServer.listen({ ...options, path: tempSocketPath() })
      : await TCPServer.listen({ ...options, host: transport === 'tcp6' ? '::1' : '127.0.0.1', port: 0 })
  registerCleanup(() => server.close())
  return server
}

/** The datagram transports a fixture can make: UDP over IPv4, UDP over IPv6, Unix datagram. */
export type DatagramTransportName = 'udp4' | 'udp6' | 'unix-dgram'

/** Every datagram transport, for matrices. */
export const DATAGRAM_TRANSPORTS: readonly DatagramTransportName[] = ['udp4', 'udp6', 'unix-dgram']

/**
 * Starts a datagram server on loopback: `udp4` binds `127.0.0.1:0`, `udp6`
 * binds `[::1]:0`, `unix-dgram` a socket in a fresh temporary directory.
 * Inside a test it is closed when the test finishes.
 *
 * @param transport - Which transport. Default `udp4`.
 * @param options - Extra server options (maxPacketSize, maxPendingDatagrams).
 * @returns The bound server.
 * @example
 * ```ts
 * const server = await listenDatagram('unix-dgram', { maxPacketSize: 512 })
 * ```
 */
export async function listenDatagram(
  transport: DatagramTransportName = 'udp4',
  options: DatagramServerOptions = {},
): Promise<DatagramServer> {
  const server =
    transport === 'unix-dgram'
      ? await UnixDatagramServer.bind({ ...options, path: tempSocketPath() })
      : await UDPServer.bind({ ...options, host: transport === 'udp6' ? '::1' : '127.0.0.1', port: 0 })
  registerCleanup(() => server.close())
  return server
}

/** A `serve()` running in the background of a test. */
export interface BackgroundServe {
  /** The errors `handleError` received, in order. */
  readonly errors: unknown[]
  /** Resolves (or rejects) when `serve()` does. */
  readonly done: Promise<void>
  /** The signal given to `serve()`. */
  readonly signal: AbortSignal
  /**
   * Aborts the signal and waits for `serve()`. If it has not resolved
   * within `timeoutMs`, rejects with a report of what is still open.
   */
  stop(timeoutMs?: number): Promise<void>
}

/**
 * Runs `serve(server, handler, options)` in the background, collecting the
 * errors `handleError` receives (unless `options.handleError` is given);
 * inside a test it is stopped when the test finishes.
 *
 * `stop()` ends idle connections at once: every running request gets the
 * stop notice (`request.stopping` aborts), and a stream handler waiting to
 * read from a client the test left open sees its read end, as at the
 * client's end. So open idle clients do not hold the stop for the drain.
 * Its `drainTimeoutMs` is 1 s unless given (serve()'s default is 30 s): a
 * request still running a second after the stop (one in the middle of a
 * message, or a handler that waits on something other than its client and
 * ignores `request.stopping`) is aborted with `DrainTimeoutError`, which
 * lands in `errors`. Pass `drainTimeoutMs` to test a longer drain.
 *
 * @param server - A listening server.
 * @param handler - The handler under test (`null` with `forked()`).
 * @param options - Any `serve()` options except `signal`.
 * @returns Handles to stop it and to read its errors.
 * @example
 * ```ts
 * const server = await listen()
 * const serving = serveInBackground(server, EchoHandler)
 * // ... talk to it ...
 * await serving.stop()
 * expect(serving.errors).toEqual([])
 * ```
 */
export function serveInBackground<R extends Request>(
  server: Server<R>,
  handler: Handler<R> | null,
  options: Omit<ServeOptions<R>, 'signal'> = {},
): BackgroundServe {
  const controller = new AbortController()
  const errors: unknown[] = []
  const done = serve(server, handler, {
    handleError: (error) => errors.push(error),
    // A test's clean-up should not wait the production default of 30 s for
    // a handler still reading from a client the test left open.
    drainTimeoutMs: 1_000,
    ...options,
    signal: controller.signal,
  })
  done.catch(() => {})
  const stop = async (timeoutMs = 10_000): Promise<void> => {
    controller.abort()
    let timer: NodeJS.Timeout | undefined
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`Cannot stop serve(): still running after ${timeoutMs} ms; open: ${process.getActiveResourcesInfo().join(', ')}`),
          ),
        timeoutMs,
      )
    })
    try {
      await Promise.race([done, overrun])
    } finally {
      clearTimeout(timer)
    }
  }
  registerCleanup(() => stop())
  return { errors, done, signal: controller.signal, stop }
}
