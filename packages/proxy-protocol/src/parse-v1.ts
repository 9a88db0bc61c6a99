/**
 * Version 1 of the PROXY protocol: one line of text.
 *
 * @module
 * @internal
 */

import { isIPv4, isIPv6 } from 'node:net'
import { inetAddress, ipv6Bytes, ipv6Text } from '@socketserver/core'
import { ProxyProtocolError } from './errors.js'
import type { ProxyHeader } from './header.js'

/** `PROXY ` : how every version 1 header begins. */
export const V1_PREFIX = Buffer.from('PROXY ', 'latin1')

/** The longest version 1 header, CR LF included (`PROXY UNKNOWN` with two IPv6 addresses and ports). */
export const V1_MAX_LENGTH = 107

const CR = 0x0d
const LF = 0x0a
const PORT = /^(?:0|[1-9][0-9]{0,4})$/

/** A parsed header and how many bytes it took. */
export interface Parsed {
  /** What the header says. */
  readonly header: ProxyHeader
  /** Its length in bytes. */
  readonly length: number
}

function malformed(detail: string): ProxyProtocolError {
  return new ProxyProtocolError('malformed', `the PROXY v1 header ${detail}`)
}

/**
 * Parses a version 1 header at the start of `bytes`, which must begin with
 * {@link V1_PREFIX}.
 *
 * @returns The header and its length, or undefined when its CR LF has not
 *   arrived yet (and fewer than {@link V1_MAX_LENGTH} bytes have).
 * @throws ProxyProtocolError (`malformed`) for anything the specification
 *   does not allow: no CR LF within 107 bytes, fields other than exactly
 *   `PROXY TCP4|TCP6 source destination sourcePort destinationPort`
 *   separated by single spaces (or `PROXY UNKNOWN` followed by anything),
 *   addresses of the wrong family, ports out of 0-65535 or with leading
 *   zeros.
 */
export function parseV1(bytes: Uint8Array): Parsed | undefined {
  const limit = Math.min(bytes.length, V1_MAX_LENGTH)
  let end = -1
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const byte = bytes[i] as number
    if (byte === LF) throw malformed('has a line feed without a carriage return before it')
    if (byte === CR) {
      // The CR LF counts: a whole header is at most 107 bytes.
      if (i + 2 > V1_MAX_LENGTH) throw malformed(`has no CR LF within ${V1_MAX_LENGTH} bytes`)
      if (i + 1 >= bytes.length) return undefined
      if (bytes[i + 1] !== LF) throw malformed('has a carriage return not followed by a line feed')
      end = i
      break
    }
    if (byte < 0x20 || byte > 0x7e) throw malformed(`has a byte outside printable ASCII (0x${byte.toString(16).padStart(2, '0')})`)
  }
  if (end === -1) {
    if (bytes.length < V1_MAX_LENGTH) return undefined
    throw malformed(`has no CR LF within ${V1_MAX_LENGTH} bytes`)
  }
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1')
  const length = end + 2
  const fields = line.split(' ')
  const protocol = fields[1]
  if (protocol === 'UNKNOWN') {
    // The specification: whatever follows UNKNOWN is to be ignored.
    return {
      header: { version: 1, command: 'local', transport: 'unspecified', source: undefined, destination: undefined, tlvs: [] },
      length,
    }
  }
  if (protocol !== 'TCP4' && protocol !== 'TCP6')
    throw malformed(`names the protocol ${JSON.stringify(protocol ?? '')}: expected TCP4, TCP6 or UNKNOWN`)
  if (fields.length !== 6) throw malformed(`has ${fields.length} fields: expected 6 separated by single spaces`)
  const [, , sourceHost, destinationHost, sourcePort, destinationPort] = fields as [string, string, string, string, string, string]
  const isFamily = protocol === 'TCP4' ? isIPv4 : isIPv6
  for (const host of [sourceHost, destinationHost]) {
    if (!isFamily(host) || host.includes('%'))
      throw malformed(`has the address ${JSON.stringify(host)}: expected an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`)
  }
  const ports = [sourcePort, destinationPort].map((text) => {
    const port = PORT.test(text) ? Number(text) : Number.NaN
    if (!(port <= 65_535)) throw malformed(`has the port ${JSON.stringify(text)}: expected 0 to 65535 without leading zeros`)
    return port
  })
  // IPv6 in the form Node reports peers in, however the proxy wrote it.
  const host = (text: string): string => (protocol === 'TCP4' ? text : ipv6Text(ipv6Bytes(text) as Uint8Array))
  return {
    header: {
      version: 1,
      command: 'proxy',
      transport: 'stream',
      source: inetAddress('tcp', host(sourceHost), ports[0] as number),
      destination: inetAddress('tcp', host(destinationHost), ports[1] as number),
      tlvs: [],
    },
    length,
  }
}
