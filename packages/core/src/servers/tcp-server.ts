/**
 * TCP over IPv4 and IPv6.
 *
 * @module
 */

import { lookup } from 'node:dns/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import { getSystemErrorMap } from 'node:util'
import { formatAddress, inetAddress, type SocketAddress } from '../address.js'
import { BindError, InvalidOptionError, SocketActivationError } from '../errors.js'
import { nonNegativeInteger } from '../internal/option-checks.js'
import { systemCode } from '../internal/system-code.js'
import { inheritedSocket } from './inherited-socket.js'
import { hasNativeReusePort } from './reuse-port.js'
import type { PeerAddress } from './stream-connection.js'
import { listen, StreamServer, type StreamServerOptions } from './stream-server.js'

/**
 * The host a server binds when none is given: loopback. Binding every
 * interface should be a decision, not a default (Python has no default;
 * Node's is every interface).
 */
export const DEFAULT_HOST = '127.0.0.1'

/** Whether accepted TCP connections have Nagle's algorithm off by default: see {@link TCPServerOptions.noDelay}. */
export const DEFAULT_NO_DELAY = true

/** Options of {@link TCPServer}. */
export interface TCPServerOptions extends StreamServerOptions {
  /**
   * The host or numeric address to bind: `127.0.0.1`, `::1`, `0.0.0.0`, or
   * `::` for dual-stack (IPv6 and IPv4 on one socket, unless `ipv6Only`).
   * Default {@link DEFAULT_HOST}.
   */
  host?: string
  /** The port; 0 (the default) lets the kernel pick a free one. */
  port?: number
  /** With host `::`, accept IPv6 only (no IPv4-mapped peers). Default false. */
  ipv6Only?: boolean
  /**
   * Sets SO_REUSEPORT, so several servers (processes) may bind the same
   * address and the kernel spreads connections among them (Python's
   * `allow_reuse_port`). On Node before 22.12, which lacks the option, the
   * socket is made by the `node-unix-socket` package instead; there the host
   * must resolve to one address and `ipv6Only` is not available.
   */
  reusePort?: boolean
  /**
   * Sets TCP_NODELAY on every accepted connection, turning Nagle's algorithm
   * off. Default true, as Go's net package does (Python and Node leave Nagle
   * on). With Nagle on, a server that writes its replies one by one (one
   * per request, the natural way) has every reply after the first held back
   * until the client acknowledges the first, and clients delay that
   * acknowledgement by up to 40 ms: two pipelined requests then take a
   * median of 44 ms instead of 0.1 ms. Request/reply protocols want each
   * reply sent at once; our writers batch what is written together
   * themselves. `false` brings Nagle back (for a server that streams many
   * tiny writes and prefers fewer packets); a handler can still change one
   * connection with `request.socket.setNoDelay()`.
   */
  noDelay?: boolean
}

/** Options of {@link TCPServer.fromFd}: those of any stream server; the address is the socket's. */
export type InheritedTCPServerOptions = Omit<TCPServerOptions, 'host' | 'port' | 'ipv6Only' | 'reusePort'>

/**
 * A TCP server: a bound, listening socket and an async iterable of accepted
 * connections. Python counterpart: `socketserver.TCPServer`.
 *
 * @example
 * ```ts
 * await using server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
 * console.log(server.address) // { transport: 'tcp', host: '127.0.0.1', port: 40123, family: 'IPv4' }
 * for await (const request of server) {
 *   request.socket.end('hello\n')
 *   await request.close().catch((error) => console.error(error.message)) // a client that reset
 * }
 * ```
 */
export class TCPServer extends StreamServer {
  readonly #host: string
  readonly #port: number
  readonly #ipv6Only: boolean
  readonly #reusePort: boolean
  readonly #noDelay: boolean
  /** The inherited listening descriptor it serves, when made by {@link TCPServer.fromFd}. */
  #fd: number | undefined

  /**
   * Makes an unbound server (Python's `bind_and_activate=False`): call
   * {@link TCPServer.bind} then {@link TCPServer.activate}.
   *
   * @throws InvalidOptionError for an option outside its domain.
   */
  constructor(options: TCPServerOptions = {}) {
    super(options)
    this.#host = options.host ?? DEFAULT_HOST
    if (typeof this.#host !== 'string' || this.#host.length === 0) {
      throw new InvalidOptionError('host', `Cannot use host ${JSON.stringify(options.host)}: expected a host name or address`)
    }
    this.#port = nonNegativeInteger('port', options.port ?? 0)
    if (this.#port > 65535) throw new InvalidOptionError('port', `Cannot use port ${this.#port}: the highest port is 65535`)
    this.#ipv6Only = options.ipv6Only ?? false
    this.#reusePort = options.reusePort ?? false
    this.#noDelay = options.noDelay ?? DEFAULT_NO_DELAY
    if (typeof this.#noDelay !== 'boolean') {
      throw new InvalidOptionError('noDelay', `Cannot use noDelay ${JSON.stringify(options.noDelay)}: expected true or false`)
    }
  }

  protected override get noDelay(): boolean {
    return this.#noDelay
  }

  /**
   * Makes, binds and activates a server (Python's `TCPServer(address,
   * Handler)` with `bind_and_activate=True`).
   *
   * Abort behaviour: an aborted `options.signal` rejects before binding;
   * aborting it later closes the server.
   *
   * @param options - Host, port and listening options.
   * @returns The listening server.
   * @throws BindError with the system `code` (`EADDRINUSE`, `EACCES`,
   *   `EADDRNOTAVAIL`, `ENOTFOUND`) naming the address.
   * @example
   * ```ts
   * const server = await TCPServer.listen({ host: '::', port: 8007 }) // dual-stack
   * ```
   */
  static async listen(options: TCPServerOptions = {}): Promise<TCPServer> {
    const server = new TCPServer(options)
    await server.bind()
    server.activate()
    return server
  }

  /**
   * Makes a server of an inherited listening TCP socket (socket activation:
   * see {@link listenFds}), IPv4 or IPv6, bound by whoever passed it. The
   * descriptor becomes the server's: closing the server closes it.
   *
   * @param fd - The descriptor, such as 3 (the first of `LISTEN_FDS`).
   * @param options - The options of any stream server (limits, backlog,
   *   `noDelay`); the address is the socket's own.
   * @returns The listening server.
   * @throws SocketActivationError when `fd` is not open, not a socket, or
   *   not a TCP one (the message names what it is); InvalidOptionError for
   *   a value that is not a descriptor.
   * @example
   * ```ts
   * const [inherited] = listenFds()
   * const server = await TCPServer.fromFd(inherited.fd)
   * ```
   */
  static async fromFd(fd: number, options: InheritedTCPServerOptions = {}): Promise<TCPServer> {
    inheritedSocket(fd, 'tcp', 'TCPServer')
    const server = new TCPServer(options)
    server.#fd = fd
    await server.bind()
    server.activate()
    return server
  }

  protected override async listenOn(netServer: net.Server, backlog: number): Promise<void> {
    if (this.#fd !== undefined) {
      const fd = this.#fd
      return listen(netServer, { fd, backlog } as net.ListenOptions, (error) => inheritedError(fd, error))
    }
    const where = formatAddress({ transport: 'tcp', host: this.#host, port: this.#port, family: net.isIPv6(this.#host) ? 'IPv6' : 'IPv4' })
    const toError = (error: unknown): Error => bindError(where, error)
    if (this.#reusePort && !hasNativeReusePort()) {
      const fd = await reusePortSocket(this.#host, this.#port).catch((error: unknown) => Promise.reject(toError(error)))
      return listen(netServer, { fd, backlog } as net.ListenOptions, toError)
    }
    const options: net.ListenOptions & { reusePort?: boolean } = { host: this.#host, port: this.#port, backlog, ipv6Only: this.#ipv6Only }
    if (this.#reusePort) options.reusePort = true
    return listen(netServer, options, toError)
  }

  protected override describe(netServer: net.Server): SocketAddress {
    const address = netServer.address() as net.AddressInfo
    return inetAddress('tcp', address.address, address.port)
  }

  protected override peerAddress(socket: net.Socket): PeerAddress {
    // Reading it here, at accept, makes Node keep the peer's address on the
    // socket (`_peername`), so it stays known after a reset closed the
    // socket; our object for it is made only when someone asks (most
    // connections never do). A client that reset while its connection still
    // waited in the backlog cannot be named (#16): Linux's getpeername()
    // then fails with ENOTCONN, and what still knows the peer (accept()'s
    // own address, SO_PEERNAME) is out of Node's reach, as libuv accepts
    // without asking for an address.
    if (socket.remotePort === undefined) return unknownPeer(socket)
    return tcpPeer
  }
}

/**
 * A TCP client that reset before it was accepted: no host and no port (which
 * `formatAddress()` words as an unknown client), but its family, which is our
 * end's (an IPv4-mapped end of a dual-stack server counting as IPv4).
 */
function unknownPeer(socket: net.Socket): SocketAddress {
  const { family } = inetAddress('tcp', socket.localAddress ?? '', 0)
  return { transport: 'tcp', host: '', port: 0, family }
}

/** The address of a TCP socket's peer, from what Node kept of it. */
function tcpPeer(socket: net.Socket): SocketAddress {
  return inetAddress('tcp', socket.remoteAddress ?? '', socket.remotePort ?? 0)
}

/** Node refused to adopt an inherited descriptor. */
function inheritedError(fd: number, error: unknown): SocketActivationError {
  return new SocketActivationError(`Cannot make a TCPServer from fd ${fd}: ${error instanceof Error ? error.message : String(error)}`, fd)
}

/** A failed bind, worded for `where`. @internal */
export function bindError(where: string, error: unknown): BindError {
  const code = systemCode(error, 'SS_ERR_BIND')
  const reason = REASONS[code] ?? (error instanceof Error ? error.message : String(error))
  return new BindError(where, `Cannot bind "${where}": ${reason}`, code, { cause: error })
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'the address is not available on this host',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved now',
  EAFNOSUPPORT: 'the address family is not supported',
}

async function reusePortSocket(host: string, port: number): Promise<number> {
  const ip = net.isIP(host) ? host : (await lookup(host)).address
  const require = createRequire(import.meta.url)
  const { createReuseportFd } = require('node-unix-socket') as { createReuseportFd(port: number, host: string): number }
  try {
    return createReuseportFd(port, ip)
  } catch (error) {
    throw withSystemCode(error)
  }
}

/**
 * The C library's text for the failures a bind reports, by code: the addon
 * behind `reusePort` on Node < 22.12 reports only that text (code
 * "Unknown"), and libuv words some of them differently.
 */
const C_LIBRARY_TEXTS: Record<string, string> = {
  'address already in use': 'EADDRINUSE',
  'cannot assign requested address': 'EADDRNOTAVAIL',
  'permission denied': 'EACCES',
  'address family not supported by protocol': 'EAFNOSUPPORT',
}

/** An addon error that names its failure only in text, given the system code (EADDRINUSE, ...) it stands for. */
function withSystemCode(error: unknown): unknown {
  const text = error instanceof Error ? error.message.toLowerCase() : undefined
  if (text === undefined || (typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code !== 'Unknown')) {
    return error
  }
  let code = C_LIBRARY_TEXTS[text]
  if (code === undefined) {
    for (const [name, message] of getSystemErrorMap().values()) if (message.toLowerCase() === text) code = name
  }
  return code === undefined ? error : Object.assign(new Error((error as Error).message, { cause: error }), { code })
}
