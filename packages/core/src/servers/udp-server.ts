/**
 * UDP over IPv4 and IPv6.
 *
 * @module
 */

import dgram from 'node:dgram'
import type { LookupOneOptions } from 'node:dns'
import { lookup } from 'node:dns/promises'
import net from 'node:net'
import { formatAddress, inetAddress, type SocketAddress } from '../address.js'
import { BindError, DatagramTooLargeError, InvalidOptionError, ReplyError, SocketActivationError } from '../errors.js'
import { systemCode } from '../internal/system-code.js'
import { DatagramServer, type DatagramServerOptions } from './datagram-server.js'
import { inheritedSocket } from './inherited-socket.js'
import { hasNativeReusePort } from './reuse-port.js'
import { DEFAULT_HOST } from './tcp-server.js'

/**
 * Node receives UDP datagrams into a 64 KiB buffer, more than any UDP
 * payload (65,507 bytes over IPv4, 65,527 over IPv6), so nothing is ever cut.
 */
const UDP_RECEIVE_LIMIT = 65_536

/** Options of {@link UDPServer}. */
export interface UDPServerOptions extends DatagramServerOptions {
  /**
   * The host or numeric address to bind; `::` is dual-stack unless
   * `ipv6Only`. Default {@link DEFAULT_HOST}, loopback.
   */
  host?: string
  /** The port; 0 (the default) lets the kernel pick one. */
  port?: number
  /** With host `::`, receive IPv6 only. Default false. */
  ipv6Only?: boolean
  /**
   * Sets SO_REUSEPORT (Python's `allow_reuse_port`). Node's dgram offers it
   * from 22.12 / 23.1; on older Node this option is refused with an
   * `InvalidOptionError`.
   */
  reusePort?: boolean
  /** SO_RCVBUF in bytes: how much the kernel holds while we are busy. */
  recvBufferSize?: number
  /** SO_SNDBUF in bytes. */
  sendBufferSize?: number
}

/** Options of {@link UDPServer.fromFd}: packet size, limits and buffer sizes; the address is the socket's. */
export type InheritedUDPServerOptions = Omit<UDPServerOptions, 'host' | 'port' | 'ipv6Only' | 'reusePort'>

/**
 * A UDP server: a bound socket and an async iterable of the datagrams it
 * receives. Python counterpart: `socketserver.UDPServer`, with
 * `max_packet_size` raised to 65,507 and no silent truncation.
 *
 * @example
 * ```ts
 * await using server = await UDPServer.bind({ host: '127.0.0.1', port: 0 })
 * for await (const request of server) await request.reply(request.data) // echo
 * ```
 */
export class UDPServer extends DatagramServer {
  readonly #host: string
  readonly #port: number
  readonly #options: UDPServerOptions
  #socket: dgram.Socket | undefined
  #dualStack = false
  /** The inherited descriptor it serves, when made by {@link UDPServer.fromFd}, and its family. */
  #inherited: { fd: number; family: 'IPv4' | 'IPv6' } | undefined

  /**
   * Makes an unbound server (Python's `bind_and_activate=False`): call
   * {@link UDPServer.bind} then {@link UDPServer.activate}.
   *
   * @throws InvalidOptionError for an option outside its domain.
   */
  constructor(options: UDPServerOptions = {}) {
    super(options, UDP_RECEIVE_LIMIT)
    this.#host = options.host ?? DEFAULT_HOST
    if (typeof this.#host !== 'string' || this.#host.length === 0) {
      throw new InvalidOptionError('host', `Cannot use host ${JSON.stringify(options.host)}: expected a host name or address`)
    }
    const port = options.port ?? 0
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidOptionError('port', `Cannot use port ${JSON.stringify(port)}: expected an integer from 0 to 65535`)
    }
    if (options.reusePort === true && !hasNativeReusePort()) {
      throw new InvalidOptionError(
        'reusePort',
        `Cannot use reusePort for UDP on Node ${process.versions.node}: it needs Node 22.12 or later`,
      )
    }
    this.#port = port
    this.#options = options
  }

  /**
   * Makes, binds and activates a UDP server (Python's `UDPServer(address,
   * Handler)`).
   *
   * Abort behaviour: an aborted `options.signal` rejects before binding;
   * aborting it later closes the server.
   *
   * @param options - Host, port, packet size and socket options.
   * @returns The bound server.
   * @throws BindError with the system code (`EADDRINUSE`, `EADDRNOTAVAIL`,
   *   `ENOTFOUND`) naming the address.
   * @example
   * ```ts
   * const server = await UDPServer.bind({ host: '::', port: 0 }) // dual-stack
   * ```
   */
  // `override`: every class inherits Function.prototype.bind on its static
  // side; this factory replaces it, as Python's naming (bind) asks.
  static override async bind(options: UDPServerOptions = {}): Promise<UDPServer> {
    const server = new UDPServer(options)
    await server.bind()
    server.activate()
    return server
  }

  /**
   * Makes a server of an inherited bound UDP socket (socket activation:
   * see {@link listenFds}), IPv4 or IPv6. The descriptor becomes the
   * server's: closing the server closes it. The family is read from the
   * kernel (/proc), since Node must know it to send; where /proc cannot
   * tell, IPv4 is assumed.
   *
   * @param fd - The descriptor.
   * @param options - Packet size, limits and buffer sizes; the address is the socket's own.
   * @returns The bound server.
   * @throws SocketActivationError when `fd` is not open, not a socket, or
   *   not a UDP one; InvalidOptionError for a value that is not a descriptor.
   * @example
   * ```ts
   * const server = await UDPServer.fromFd(3)
   * for await (const request of server) await request.reply(request.data)
   * ```
   */
  static async fromFd(fd: number, options: InheritedUDPServerOptions = {}): Promise<UDPServer> {
    const facts = inheritedSocket(fd, 'udp', 'UDPServer')
    const server = new UDPServer(options)
    server.#inherited = { fd, family: facts?.family ?? 'IPv4' }
    await server.bind()
    server.activate()
    return server
  }

  protected override async openSocket(receive: (data: Uint8Array, from: SocketAddress) => void): Promise<SocketAddress> {
    const inherited = this.#inherited
    const where = formatAddress({ transport: 'udp', host: this.#host, port: this.#port, family: net.isIPv6(this.#host) ? 'IPv6' : 'IPv4' })
    let address: string
    try {
      address =
        inherited !== undefined
          ? inherited.family === 'IPv6'
            ? '::'
            : '0.0.0.0'
          : net.isIP(this.#host)
            ? this.#host
            : (await lookup(this.#host)).address
    } catch (error) {
      throw bindError(where, error)
    }
    const options: dgram.SocketOptions & { reusePort?: boolean } = {
      type: net.isIPv6(address) ? 'udp6' : 'udp4',
      ipv6Only: this.#options.ipv6Only ?? false,
      lookup: literalLookup(net.isIPv6(address) ? 6 : 4),
    }
    if (this.#options.reusePort === true) options.reusePort = true
    if (this.#options.recvBufferSize !== undefined) options.recvBufferSize = this.#options.recvBufferSize
    if (this.#options.sendBufferSize !== undefined) options.sendBufferSize = this.#options.sendBufferSize
    const socket = dgram.createSocket(options)
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        socket.close()
        reject(
          inherited === undefined
            ? bindError(where, error)
            : new SocketActivationError(`Cannot make a UDPServer from fd ${inherited.fd}: ${error.message}`, inherited.fd),
        )
      }
      socket.once('error', onError)
      const at = inherited !== undefined ? { fd: inherited.fd } : { address, port: this.#port, exclusive: true }
      socket.bind(at, () => {
        socket.off('error', onError)
        resolve()
      })
    })
    // After binding, errors concern single sends (reported by reply()).
    socket.on('error', () => {})
    socket.on('message', (data, rinfo) => receive(data, inetAddress('udp', rinfo.address, rinfo.port)))
    this.#socket = socket
    const bound = socket.address()
    this.#dualStack = bound.family === 'IPv6'
    return inetAddress('udp', bound.address, bound.port)
  }

  protected override sendTo(data: Uint8Array, to: SocketAddress): Promise<void> {
    const socket = this.#socket
    const limit = this.maxPacketSize
    return new Promise((resolve, reject) => {
      if (socket === undefined || 'path' in to) {
        reject(new ReplyError(to, `Cannot reply to ${formatAddress(to)}: the server is not bound to UDP`, 'SS_ERR_SERVER_CLOSED'))
        return
      }
      // A dual-stack socket speaks IPv6: reach IPv4 peers through their mapped address.
      const host = to.family === 'IPv4' && this.#dualStack ? `::ffff:${to.host}` : to.host
      try {
        socket.send(data, to.port, host, (error) => {
          if (error === null || error === undefined) return resolve()
          reject(sendError(to, data.length, limit, error))
        })
      } catch (error) {
        // Node refuses some destinations synchronously (port 0: ERR_SOCKET_BAD_PORT).
        reject(sendError(to, data.length, limit, error as Error))
      }
    })
  }

  protected override async shut(): Promise<void> {
    const socket = this.#socket
    this.#socket = undefined
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  protected override descriptor(): number {
    // dgram keeps its handle under a private symbol (reading `_handle` is
    // deprecated, DEP0112); -1 where that ever changes.
    const socket = this.#socket as unknown as Record<symbol, { handle?: { fd?: number } } | undefined> | undefined
    if (socket === undefined) return -1
    const state = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol')
    return (state === undefined ? undefined : socket[state]?.handle?.fd) ?? -1
  }
}

/**
 * The socket's `lookup`. dgram resolves the address of every send (and of
 * bind) through it; `dns.lookup` answers even an IP literal a tick later,
 * after parsing it. We only ever pass literals: the bind address is resolved
 * before binding, and replies go to the senders' addresses. So answer at
 * once, with the socket's family: one deferred callback and one address
 * parse fewer per reply.
 */
function literalLookup(
  family: 4 | 6,
): (host: string, options: LookupOneOptions | number, callback: (error: Error | null, address: string, family: number) => void) => void {
  return (host, _options, callback) => callback(null, host, family)
}

function bindError(where: string, error: unknown): BindError {
  const code = systemCode(error, 'SS_ERR_BIND')
  const detail = code === 'EADDRINUSE' ? 'the address is already in use' : error instanceof Error ? error.message : String(error)
  return new BindError(where, `Cannot bind "${where}": ${detail}`, code, { cause: error })
}

/**
 * Turns a failed send into the error reply() rejects with.
 *
 * @internal
 */
export function sendError(to: SocketAddress, size: number, limit: number, error: unknown): Error {
  const code = systemCode(error, 'SS_ERR_SEND')
  if (code === 'EMSGSIZE' || /message too long/i.test(String((error as Error)?.message))) {
    return new DatagramTooLargeError(`Cannot reply to ${formatAddress(to)}: the reply is ${size} bytes, more than the socket can send`, {
      size,
      limit,
      clientAddress: to,
      cause: error,
    })
  }
  const detail = error instanceof Error ? error.message : String(error)
  return new ReplyError(to, `Cannot reply to ${formatAddress(to)}: ${detail}`, code, { cause: error })
}
