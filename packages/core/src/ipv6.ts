/**
 * IPv6 addresses between text and bytes, as the PROXY protocol's binary
 * header and rpcbind's universal addresses need them.
 *
 * @module
 */

import { isIPv6 } from 'node:net'

/**
 * Sixteen bytes as IPv6 text in the form Node reports peers in and
 * `inet_ntop()` writes (RFC 5952: lower case, no leading zeros, the first
 * longest run of two or more zero groups as `::`), and IPv4-mapped
 * addresses as `::ffff:a.b.c.d`, which `inetAddress` turns into the IPv4
 * address they carry.
 *
 * @param bytes - At least 16 bytes; the first 16 are the address.
 * @returns The text.
 * @example
 * ```ts
 * ipv6Text(Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)) // '2001:db8::1'
 * ```
 */
export function ipv6Text(bytes: Uint8Array): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number))
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff)
    return `::ffff:${Array.from(bytes.subarray(12, 16)).join('.')}`
  let bestStart = -1
  let bestLength = 1
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start++
      continue
    }
    let end = start
    while (end < 8 && groups[end] === 0) end++
    if (end - start > bestLength) {
      bestStart = start
      bestLength = end - start
    }
    start = end
  }
  const hex = (list: number[]): string => list.map((group) => group.toString(16)).join(':')
  if (bestStart === -1) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}

/**
 * The sixteen bytes of an IPv6 address in text (with `::`, and an embedded
 * IPv4 tail such as `::ffff:1.2.3.4`).
 *
 * @param host - The text, without brackets or a zone (`%eth0`).
 * @returns The bytes; undefined when `host` is not an IPv6 address.
 * @example
 * ```ts
 * ipv6Bytes('::ffff:1.2.3.4') // <Buffer 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04>
 * ```
 */
export function ipv6Bytes(host: string): Buffer | undefined {
  if (!isIPv6(host) || host.includes('%')) return undefined
  let text = host
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = text.split('::')
  const head = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] as string).split(':') : []
  const missing = 8 - head.length - tail.length
  if (halves.length > 2 || (halves.length === 1 ? missing !== 0 : missing < 1)) return undefined
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]
  const bytes = Buffer.alloc(16)
  for (const [index, group] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2)
  return bytes
}
