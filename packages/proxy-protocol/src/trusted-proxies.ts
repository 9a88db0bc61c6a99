/**
 * Which peers may send a PROXY header: an allow-list of addresses and
 * networks.
 *
 * @module
 */

import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { InvalidOptionError, type SocketAddress } from '@socketserver/core'

/**
 * The default: loopback peers only (a proxy on the same machine). Anyone
 * else's header would let them claim any client address.
 */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = ['127.0.0.0/8', '::1/128']

/**
 * An allow-list of proxies: addresses (`192.0.2.7`, `2001:db8::7`) and
 * networks in CIDR form (`10.0.0.0/8`, `2001:db8::/32`). IPv4 entries also
 * match IPv4-mapped IPv6 peers. Unix-socket peers always pass: they have no
 * address, and the socket file's permissions decide who may connect.
 */
export class TrustedProxies {
  readonly #list = new BlockList()
  /** The entries as given, for messages. */
  readonly entries: readonly string[]

  /**
   * @param entries - Addresses and CIDR networks.
   * @throws InvalidOptionError (option `trustedProxies`) for an entry that is neither.
   */
  constructor(entries: readonly string[]) {
    if (!Array.isArray(entries)) {
      throw new InvalidOptionError('trustedProxies', 'Cannot use trustedProxies: expected an array of addresses and CIDR networks')
    }
    for (const entry of entries) this.#add(entry)
    this.entries = [...entries]
  }

  #add(entry: string): void {
    const refuse = (why: string): InvalidOptionError =>
      new InvalidOptionError('trustedProxies', `Cannot trust the proxy ${JSON.stringify(entry)}: ${why}`)
    if (typeof entry !== 'string') throw refuse('expected an address or a CIDR network as a string')
    const [address = '', prefixText, extra] = entry.split('/')
    if (extra !== undefined) throw refuse('expected one "/" at most')
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) && !address.includes('%') ? 'ipv6' : undefined
    if (type === undefined) throw refuse('expected an IPv4 or IPv6 address')
    if (prefixText === undefined) {
      this.#list.addAddress(address, type)
      return
    }
    const maximum = type === 'ipv4' ? 32 : 128
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN
    if (!(prefix >= 0 && prefix <= maximum)) throw refuse(`expected a prefix length from 0 to ${maximum}`)
    this.#list.addSubnet(address, prefix, type)
  }

  /**
   * Whether a peer at `address` may send a header.
   *
   * @param address - The connection's peer.
   * @returns true for a listed address or network, and for any Unix-socket peer.
   */
  allows(address: SocketAddress): boolean {
    if ('path' in address) return true
    if (address.host === '') return false
    return this.#list.check(address.host, address.family === 'IPv4' ? 'ipv4' : 'ipv6')
  }
}
