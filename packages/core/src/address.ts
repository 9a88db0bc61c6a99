/**
 * Socket addresses: the typed, normalised shape every server and request
 * reports, and the text forms (`127.0.0.1:7`, `[::1]:0`, `/run/x.sock`) users
 * type on command lines. Pure functions; nothing here opens a socket.
 *
 * @module
 */

import { isIP } from 'node:net'
import { InvalidAddressError } from './errors.js'

export { formatAddress } from './address-text.js'

/** The four transports, named as the CLI flags name them. */
export type Transport = 'tcp' | 'udp' | 'unix' | 'unix-dgram'

/**
 * An IPv4 or IPv6 endpoint.
 *
 * @example
 * ```ts
 * const address: InetAddress = { transport: 'tcp', host: '::1', port: 7, family: 'IPv6' }
 * ```
 */
export interface InetAddress {
  readonly transport: 'tcp' | 'udp'
  /**
   * Numeric host: `127.0.0.1`, `::1`, `::`. Empty (with port 0) for a TCP
   * client whose address the server could not learn: it reset the
   * connection before the server accepted it (#16).
   */
  readonly host: string
  readonly port: number
  readonly family: 'IPv4' | 'IPv6'
}

/**
 * A Unix domain socket endpoint.
 *
 * `path` is the file system path; a Linux abstract name starts with `"\0"`.
 * It is `null` for an unnamed peer: a client socket that never bound a path of
 * its own (Python reports `''` or `None` there).
 *
 * @example
 * ```ts
 * const address: UnixAddress = { transport: 'unix', path: '/tmp/echo.sock' }
 * ```
 */
export interface UnixAddress {
  readonly transport: 'unix' | 'unix-dgram'
  readonly path: string | null
}

/** Any endpoint a socket server listens on or a socket request comes from. */
export type SocketAddress = InetAddress | UnixAddress

/**
 * Where requests that do not come from a socket come from: a source such as
 * a table of jobs. `name` identifies it in messages and on the CLI's
 * `listening` line (a URL without its password: `sqlite:/var/lib/jobs.db`,
 * `postgres://worker@db/jobs`, `memory:tests`).
 *
 * @example
 * ```ts
 * const address: SourceAddress = { transport: 'source', name: 'sqlite:jobs.db' }
 * ```
 */
export interface SourceAddress {
  readonly transport: 'source'
  readonly name: string
}

/** Any address a server has or a request comes from: a socket's, or a source's. */
export type Address = SocketAddress | SourceAddress

/** A host and port as written on a command line, before any lookup. */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Parses `HOST:PORT`, with IPv6 hosts in brackets: `127.0.0.1:7`,
 * `localhost:0`, `[::1]:8007`, `[::]:0`.
 *
 * @param text - The address as typed.
 * @returns The host (brackets removed) and the port.
 * @throws InvalidAddressError when the text is not `HOST:PORT`, the port is
 *   not an integer from 0 to 65535, or an unbracketed IPv6 address is given.
 * @example
 * ```ts
 * parseHostPort('[::1]:0') // { host: '::1', port: 0 }
 * ```
 */
export function parseHostPort(text: string): HostPort {
  if (typeof text !== 'string' || text.length === 0) {
    throw new InvalidAddressError(String(text), 'expected HOST:PORT')
  }
  let host: string
  let portText: string
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close === -1) throw new InvalidAddressError(text, 'missing "]" after the IPv6 address')
    host = text.slice(1, close)
    if (text[close + 1] !== ':') throw new InvalidAddressError(text, 'expected ":PORT" after "]"')
    portText = text.slice(close + 2)
    if (isIP(host) !== 6) throw new InvalidAddressError(text, `${JSON.stringify(host)} is not an IPv6 address`)
  } else {
    const colon = text.lastIndexOf(':')
    if (colon === -1) throw new InvalidAddressError(text, 'expected HOST:PORT')
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (host.includes(':')) throw new InvalidAddressError(text, 'write IPv6 addresses in brackets, as [::1]:PORT')
    if (host.length === 0) throw new InvalidAddressError(text, 'the host is empty')
    if (/\s/.test(host)) throw new InvalidAddressError(text, 'the host contains white space')
  }
  return { host, port: parsePort(portText, text) }
}

function parsePort(portText: string, input: string): number {
  if (!/^\d{1,5}$/.test(portText)) throw new InvalidAddressError(input, `the port ${JSON.stringify(portText)} is not a number`)
  const port = Number(portText)
  if (port > 65535) throw new InvalidAddressError(input, `the port ${port} is above 65535`)
  return port
}

/**
 * Builds an {@link InetAddress} from what Node reports (`socket.address()`,
 * `remoteAddress`/`remotePort`). IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`,
 * seen on dual-stack listeners) are reported as the IPv4 address they carry.
 *
 * @param transport - `tcp` or `udp`.
 * @param host - The numeric host Node reported.
 * @param port - The port Node reported.
 * @returns The normalised address.
 * @example
 * ```ts
 * inetAddress('tcp', '::ffff:127.0.0.1', 5000) // { host: '127.0.0.1', family: 'IPv4', ... }
 * ```
 */
export function inetAddress(transport: 'tcp' | 'udp', host: string, port: number): InetAddress {
  // Called for every datagram and connection: no regular expression unless
  // the host looks like an IPv6 address at all.
  if (!host.includes(':')) return { transport, host, port, family: 'IPv4' }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)
  const normalised = mapped?.[1] ?? host
  return { transport, host: normalised, port, family: isIP(normalised) === 6 ? 'IPv6' : 'IPv4' }
}
