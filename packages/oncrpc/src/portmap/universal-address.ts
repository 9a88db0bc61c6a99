/**
 * Universal addresses (RFC 5665 section 5.2.3) and netids: how rpcbind
 * names a transport (`tcp`, `udp6`, `local`) and an address on it
 * (`127.0.0.1.0.111`, `::1.0.111`, a socket path).
 *
 * @module
 */

import { isIP } from 'node:net'
import type { Address, SocketAddress } from '@socketserver/core'

/** A netid and a universal address on it. */
export interface UniversalAddress {
  readonly netid: string
  readonly address: string
}

/**
 * The netid and universal address of a server's (or client's) address:
 * `tcp`/`udp` for IPv4, `tcp6`/`udp6` for IPv6, `local` for a Unix stream
 * socket's path. Undefined for a Unix datagram socket (rpcbind has no
 * netid for it), an unnamed one, or a source of jobs (no socket).
 */
export function universalAddressOf(address: Address): UniversalAddress | undefined {
  if (address.transport === 'source') return undefined
  if ('path' in address)
    return address.transport === 'unix' && address.path !== null ? { netid: 'local', address: address.path } : undefined
  return { netid: netidOf(address), address: formatUniversalAddress(address.host, address.port) }
}

/** A host and port as a universal address: the host, then the port's two bytes (`127.0.0.1.0.111`). */
export function formatUniversalAddress(host: string, port: number): string {
  return `${host}.${port >> 8}.${port & 0xff}`
}

/** The host and port of a `tcp`/`udp`/`tcp6`/`udp6` universal address, or undefined when it is not one. */
export function parseUniversalAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(.+)\.(\d{1,3})\.(\d{1,3})$/.exec(address)
  if (match === null) return undefined
  const [, host, high, low] = match as unknown as [string, string, string, string]
  const port = Number(high) * 256 + Number(low)
  if (Number(high) > 255 || Number(low) > 255 || isIP(host) === 0) return undefined
  return { host, port }
}

/** The netid a call came in on. */
export function netidOf(address: SocketAddress): string {
  if ('path' in address) return 'local'
  return address.family === 'IPv6' ? `${address.transport}6` : address.transport
}

/** Whether a caller is on this host: a Unix socket, or a loopback address. */
export function isLocalCaller(address: SocketAddress): boolean {
  if ('path' in address) return true
  const host = address.host.toLowerCase()
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.')
}
