/**
 * Which peers may send a PROXY header: an allow-list of addresses and
 * networks.
 *
 * @module
 */

import { isIPv4, isIPv6 } from 'node:net'
import { InvalidOptionError, ipv6Bytes, type SocketAddress } from '@socketserver/core'

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
  /**
   * IPv4 networks as [address, mask] in 32-bit integers, IPv6 ones as
   * 16-byte addresses with a prefix length. Checked by hand rather than with
   * `net.BlockList`, whose `check()` makes a `SocketAddress` per call
   * (about 1 µs, a few per cent of a whole short connection here).
   */
  readonly #ipv4: Array<readonly [number, number]> = []
  readonly #ipv6: Array<readonly [Uint8Array, number]> = []
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
    const family = isIPv4(address) ? 4 : isIPv6(address) && !address.includes('%') ? 6 : undefined
    if (family === undefined) throw refuse('expected an IPv4 or IPv6 address')
    const maximum = family === 4 ? 32 : 128
    const prefix = prefixText === undefined ? maximum : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN
    if (!(prefix >= 0 && prefix <= maximum)) throw refuse(`expected a prefix length from 0 to ${maximum}`)
    if (family === 4) {
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
      this.#ipv4.push([(ipv4Number(address) & mask) >>> 0, mask])
    } else {
      const bytes = ipv6Bytes(address) as Uint8Array
      // An IPv4-mapped network also matches the IPv4 peers it maps.
      if (prefix >= 96 && isMapped(bytes)) {
        const mask = prefix === 96 ? 0 : (0xffffffff << (128 - prefix)) >>> 0
        this.#ipv4.push([(bytesNumber(bytes, 12) & mask) >>> 0, mask])
      }
      this.#ipv6.push([bytes, prefix])
    }
  }

  /**
   * Whether a peer at `address` may send a header.
   *
   * @param address - The connection's peer.
   * @returns true for a listed address or network, and for any Unix-socket peer.
   */
  allows(address: SocketAddress): boolean {
    if ('path' in address) return true
    const host = address.host
    if (host === '') return false
    if (address.family === 'IPv4') {
      const number = ipv4Number(host)
      for (const [network, mask] of this.#ipv4) if ((number & mask) >>> 0 === network) return true
      return false
    }
    const bytes = ipv6Bytes(host)
    if (bytes === undefined) return false
    // Our addresses report IPv4-mapped peers as IPv4; one given as IPv6 is checked as both.
    if (isMapped(bytes)) {
      const number = bytesNumber(bytes, 12)
      for (const [network, mask] of this.#ipv4) if ((number & mask) >>> 0 === network) return true
    }
    for (const [network, prefix] of this.#ipv6) if (samePrefix(bytes, network, prefix)) return true
    return false
  }
}

function ipv4Number(host: string): number {
  let number = 0
  let part = 0
  for (let i = 0; i < host.length; i++) {
    const code = host.charCodeAt(i)
    if (code === 0x2e) {
      number = (number << 8) | part
      part = 0
    } else part = part * 10 + (code - 0x30)
  }
  return ((number << 8) | part) >>> 0
}

function bytesNumber(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0
  )
}

/** `::ffff:a.b.c.d`. */
function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false
  return bytes[10] === 0xff && bytes[11] === 0xff
}

function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false
  const rest = prefix & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((a[whole] as number) & mask) === ((b[whole] as number) & mask)
}
