/**
 * Version 2 of the PROXY protocol: a binary header with optional TLVs.
 *
 * @module
 * @internal
 */

import { inetAddress, ipv6Text, type SocketAddress } from '@socketserver/core'
import { crc32c } from './crc32c.js'
import { ProxyProtocolError } from './errors.js'
import { type ProxyHeader, type ProxySSLInfo, type ProxyTLV, TLV_TYPES } from './header.js'
import type { Parsed } from './parse-v1.js'

/** The twelve bytes every version 2 header begins with. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/** The fixed part: signature, version and command, family and transport, length. */
export const V2_FIXED_LENGTH = 16

/** The address block of each family: IPv4 12 bytes, IPv6 36, Unix 216 (two 108-byte paths). */
const ADDRESS_LENGTH = { 1: 12, 2: 36, 3: 216 } as const
const UNIX_PATH_LENGTH = 108
const MAX_UNIQUE_ID_LENGTH = 128

function malformed(detail: string): ProxyProtocolError {
  return new ProxyProtocolError('malformed', `the PROXY v2 header ${detail}`)
}

/**
 * Parses a version 2 header at the start of `bytes`, which must begin with
 * {@link V2_SIGNATURE}.
 *
 * @returns The header and its length, or undefined while fewer than its
 *   16 + length bytes have arrived.
 * @throws ProxyProtocolError (`malformed`) for a version other than 2, a
 *   command other than LOCAL or PROXY, an unknown family or transport, a
 *   length too short for the family's addresses, a TLV that overruns the
 *   header, a CRC32C TLV that does not match, or a unique id over 128 bytes.
 */
export function parseV2(bytes: Uint8Array): Parsed | undefined {
  if (bytes.length < V2_FIXED_LENGTH) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const versionAndCommand = view.getUint8(12)
  if (versionAndCommand >> 4 !== 2) throw malformed(`has version ${versionAndCommand >> 4}: expected 2`)
  const command = versionAndCommand & 0x0f
  if (command > 1) throw malformed(`has command ${command}: expected 0 (LOCAL) or 1 (PROXY)`)
  const familyAndTransport = view.getUint8(13)
  const family = familyAndTransport >> 4
  const transport = familyAndTransport & 0x0f
  if (family > 3) throw malformed(`has address family ${family}: expected 0 to 3`)
  if (transport > 2) throw malformed(`has transport ${transport}: expected 0 to 2`)
  const length = V2_FIXED_LENGTH + view.getUint16(14)
  if (bytes.length < length) return undefined
  const header = bytes.subarray(0, length)
  if (command === 0) {
    // LOCAL (a health check): the receiver uses the connection's own
    // endpoints and discards the rest of the block.
    return {
      header: { version: 2, command: 'local', transport: transportName(transport), source: undefined, destination: undefined, tlvs: [] },
      length,
    }
  }
  const addressLength = family === 0 ? 0 : ADDRESS_LENGTH[family as 1 | 2 | 3]
  if (length - V2_FIXED_LENGTH < addressLength) {
    throw malformed(`is ${length - V2_FIXED_LENGTH} bytes after the fixed part, too short for its addresses (${addressLength})`)
  }
  const [source, destination] = addresses(header, family)
  const tlvs = parseTLVs(header, V2_FIXED_LENGTH + addressLength, length, 'TLV')
  return {
    header: { version: 2, command: 'proxy', transport: transportName(transport), source, destination, tlvs, ...facts(header, tlvs) },
    length,
  }
}

function transportName(transport: number): ProxyHeader['transport'] {
  return transport === 1 ? 'stream' : transport === 2 ? 'datagram' : 'unspecified'
}

function addresses(header: Uint8Array, family: number): [SocketAddress | undefined, SocketAddress | undefined] {
  const at = V2_FIXED_LENGTH
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  if (family === 1) {
    return [
      inetAddress('tcp', header.subarray(at, at + 4).join('.'), view.getUint16(at + 8)),
      inetAddress('tcp', header.subarray(at + 4, at + 8).join('.'), view.getUint16(at + 10)),
    ]
  }
  if (family === 2) {
    return [
      inetAddress('tcp', ipv6Text(header.subarray(at, at + 16)), view.getUint16(at + 32)),
      inetAddress('tcp', ipv6Text(header.subarray(at + 16, at + 32)), view.getUint16(at + 34)),
    ]
  }
  if (family === 3) {
    return [
      unixAddress(header.subarray(at, at + UNIX_PATH_LENGTH)),
      unixAddress(header.subarray(at + UNIX_PATH_LENGTH, at + 2 * UNIX_PATH_LENGTH)),
    ]
  }
  return [undefined, undefined]
}

/** A 108-byte `sun_path`: up to its first NUL. An empty one is an unnamed peer. */
function unixAddress(bytes: Uint8Array): SocketAddress {
  const end = bytes.indexOf(0)
  const path = Buffer.from(bytes.buffer, bytes.byteOffset, end === -1 ? bytes.length : end).toString('utf8')
  return { transport: 'unix', path }
}

/** The TLVs of `header` from `start` to `end`; `what` names them in messages (TLV, SSL sub-TLV). */
function parseTLVs(header: Uint8Array, start: number, end: number, what: string): ProxyTLV[] {
  const tlvs: ProxyTLV[] = []
  let at = start
  while (at < end) {
    if (end - at < 3) throw malformed(`ends with ${end - at} byte(s) that are not a whole ${what}`)
    const type = header[at] as number
    const valueLength = ((header[at + 1] as number) << 8) | (header[at + 2] as number)
    const valueStart = at + 3
    if (valueStart + valueLength > end) throw malformed(`has a ${what} of type 0x${type.toString(16)} that runs past its end`)
    tlvs.push({ type, value: header.subarray(valueStart, valueStart + valueLength) })
    at = valueStart + valueLength
  }
  return tlvs
}

/** The registered TLVs, checked and decoded. */
function facts(header: Uint8Array, tlvs: readonly ProxyTLV[]): Partial<ProxyHeader> {
  const found: { -readonly [K in keyof ProxyHeader]?: ProxyHeader[K] } = {}
  for (const { type, value } of tlvs) {
    if (type === TLV_TYPES.CRC32C) checkCRC(header, value)
    else if (type === TLV_TYPES.ALPN) found.alpn = text(value)
    else if (type === TLV_TYPES.AUTHORITY) found.authority = text(value)
    else if (type === TLV_TYPES.NETNS) found.netns = text(value)
    else if (type === TLV_TYPES.UNIQUE_ID) {
      if (value.length > MAX_UNIQUE_ID_LENGTH) throw malformed(`has a unique id of ${value.length} bytes: at most ${MAX_UNIQUE_ID_LENGTH}`)
      found.uniqueId = value
    } else if (type === TLV_TYPES.SSL) found.ssl = sslInfo(header, value)
  }
  return found
}

/** The CRC32C of the whole header, computed with the checksum's own four bytes as zeros, must match them. */
function checkCRC(header: Uint8Array, value: Uint8Array): void {
  if (value.length !== 4) throw malformed(`has a CRC32C TLV of ${value.length} bytes: expected 4`)
  const expected = new DataView(value.buffer, value.byteOffset, 4).getUint32(0)
  const zeroed = Uint8Array.from(header)
  zeroed.fill(0, value.byteOffset - header.byteOffset, value.byteOffset - header.byteOffset + 4)
  const actual = crc32c(zeroed)
  if (actual !== expected)
    throw malformed(
      `has a CRC32C of 0x${expected.toString(16).padStart(8, '0')}, but its bytes sum to 0x${actual.toString(16).padStart(8, '0')}`,
    )
}

function sslInfo(header: Uint8Array, value: Uint8Array): ProxySSLInfo {
  if (value.length < 5) throw malformed(`has an SSL TLV of ${value.length} bytes: at least 5 (client, verify)`)
  const client = value[0] as number
  const verify = new DataView(value.buffer, value.byteOffset, 5).getUint32(1)
  const start = value.byteOffset - header.byteOffset + 5
  const info: { -readonly [K in keyof ProxySSLInfo]?: ProxySSLInfo[K] } = {
    ssl: (client & 0x01) !== 0,
    clientCertificateOnConnection: (client & 0x02) !== 0,
    clientCertificateOnSession: (client & 0x04) !== 0,
    verified: verify === 0,
  }
  for (const sub of parseTLVs(header, start, start + value.length - 5, 'SSL sub-TLV')) {
    if (sub.type === TLV_TYPES.SSL_VERSION) info.version = text(sub.value)
    else if (sub.type === TLV_TYPES.SSL_CN) info.commonName = text(sub.value)
    else if (sub.type === TLV_TYPES.SSL_CIPHER) info.cipher = text(sub.value)
    else if (sub.type === TLV_TYPES.SSL_SIG_ALG) info.signatureAlgorithm = text(sub.value)
    else if (sub.type === TLV_TYPES.SSL_KEY_ALG) info.keyAlgorithm = text(sub.value)
  }
  return info as ProxySSLInfo
}

function text(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
}
