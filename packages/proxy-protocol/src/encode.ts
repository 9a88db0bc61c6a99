/**
 * Writing PROXY protocol headers: what a proxy (or a test) sends first.
 *
 * @module
 */

import { isIPv4 } from 'node:net'
import { InvalidOptionError, ipv6Bytes, type SocketAddress } from '@socketserver/core'
import { crc32c } from './crc32c.js'
import { type ProxyTLV, TLV_TYPES } from './header.js'
import { V1_PREFIX } from './parse-v1.js'
import { V2_FIXED_LENGTH, V2_SIGNATURE } from './parse-v2.js'

/** What to write: a relayed client (`proxy`, with both addresses) or the proxy's own connection (`local`). */
export interface ProxyHeaderFields {
  /** `proxy` for a relayed client, `local` for the proxy's own connection (a health check). */
  readonly command: 'proxy' | 'local'
  /** The original client. Required for `proxy`. */
  readonly source?: SocketAddress
  /** Where it connected. Required for `proxy`, of the same family as `source`. */
  readonly destination?: SocketAddress
  /** Version 2 only: the client's transport. Default `stream`. */
  readonly transport?: 'stream' | 'datagram' | 'unspecified'
  /** Version 2 only: TLVs to append, in order. */
  readonly tlvs?: readonly ProxyTLV[]
  /** Version 2 only: append a `PP2_TYPE_CRC32C` TLV over the whole header. Default false. */
  readonly checksum?: boolean
}

function addressesOf(fields: ProxyHeaderFields): [SocketAddress, SocketAddress] {
  const { source, destination } = fields
  if (source === undefined || destination === undefined) {
    throw new InvalidOptionError('source', 'Cannot write a PROXY header for a relayed client without its source and destination')
  }
  const kind = (address: SocketAddress): string => ('path' in address ? 'unix' : address.family)
  if (kind(source) !== kind(destination)) {
    throw new InvalidOptionError(
      'destination',
      `Cannot write a PROXY header: the source is ${kind(source)} but the destination ${kind(destination)}`,
    )
  }
  return [source, destination]
}

/**
 * A version 1 header: `PROXY TCP4 ...\r\n`, `PROXY TCP6 ...\r\n`, or
 * `PROXY UNKNOWN\r\n` for a `local` connection. Version 1 has no Unix
 * addresses.
 *
 * @param fields - The command and addresses.
 * @returns The header's bytes.
 * @throws InvalidOptionError for missing addresses, mixed families or Unix addresses.
 * @example
 * ```ts
 * const client = { transport: 'tcp', host: '192.0.2.1', port: 56324, family: 'IPv4' } as const
 * const listener = { transport: 'tcp', host: '198.51.100.2', port: 443, family: 'IPv4' } as const
 * socket.write(encodeProxyHeaderV1({ command: 'proxy', source: client, destination: listener }))
 * ```
 */
export function encodeProxyHeaderV1(fields: ProxyHeaderFields): Buffer {
  if (fields.command === 'local') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1')
  const [source, destination] = addressesOf(fields)
  if ('path' in source || 'path' in destination) {
    throw new InvalidOptionError('source', 'Cannot write a PROXY v1 header for Unix addresses: only version 2 carries them')
  }
  const protocol = source.family === 'IPv4' ? 'TCP4' : 'TCP6'
  return Buffer.from(
    `${V1_PREFIX.toString('latin1')}${protocol} ${source.host} ${destination.host} ${source.port} ${destination.port}\r\n`,
    'latin1',
  )
}

/**
 * A version 2 header, with the TLVs given and, when asked, a CRC32C.
 *
 * @param fields - The command, addresses, transport, TLVs and checksum.
 * @returns The header's bytes.
 * @throws InvalidOptionError for missing addresses, mixed families, a Unix
 *   path over 107 bytes, or a header over 65,535 bytes after its fixed part.
 * @example
 * ```ts
 * socket.write(encodeProxyHeaderV2({ command: 'local' })) // a health check
 * ```
 */
export function encodeProxyHeaderV2(fields: ProxyHeaderFields): Buffer {
  const command = fields.command === 'local' ? 0 : 1
  const transport = fields.transport === 'datagram' ? 2 : fields.transport === 'unspecified' ? 0 : 1
  let family = 0
  let block: Buffer = Buffer.alloc(0)
  if (fields.command === 'proxy') {
    const [source, destination] = addressesOf(fields)
    if ('path' in source && 'path' in destination) {
      family = 3
      block = Buffer.concat([unixPath(source.path), unixPath(destination.path)])
    } else if (!('path' in source) && !('path' in destination)) {
      family = source.family === 'IPv4' ? 1 : 2
      const ports = Buffer.alloc(4)
      ports.writeUInt16BE(source.port, 0)
      ports.writeUInt16BE(destination.port, 2)
      block = Buffer.concat([ipBytes(source.host, family), ipBytes(destination.host, family), ports])
    }
  }
  const tlvs = [...(fields.tlvs ?? [])].map(({ type, value }) => {
    const head = Buffer.from([type, value.length >> 8, value.length & 0xff])
    return Buffer.concat([head, value])
  })
  if (fields.checksum === true) tlvs.push(Buffer.from([TLV_TYPES.CRC32C, 0, 4, 0, 0, 0, 0]))
  const rest = Buffer.concat([block, ...tlvs])
  if (rest.length > 0xffff)
    throw new InvalidOptionError('tlvs', `Cannot write a PROXY v2 header of ${rest.length} bytes after its fixed part: at most 65535`)
  const fixed = Buffer.alloc(V2_FIXED_LENGTH - V2_SIGNATURE.length)
  fixed[0] = 0x20 | command
  fixed[1] = (family << 4) | transport
  fixed.writeUInt16BE(rest.length, 2)
  const header = Buffer.concat([V2_SIGNATURE, fixed, rest])
  if (fields.checksum === true) header.writeUInt32BE(crc32c(header), header.length - 4)
  return header
}

function unixPath(path: string | null): Buffer {
  const bytes = Buffer.from(path ?? '', 'utf8')
  if (bytes.length > 107)
    throw new InvalidOptionError('source', `Cannot write a PROXY v2 header for the Unix path of ${bytes.length} bytes: at most 107`)
  const field = Buffer.alloc(108)
  bytes.copy(field)
  return field
}

function ipBytes(host: string, family: number): Buffer {
  if (family === 1) {
    if (!isIPv4(host)) throw new InvalidOptionError('source', `Cannot write ${JSON.stringify(host)} as an IPv4 address`)
    return Buffer.from(host.split('.').map(Number))
  }
  const bytes = ipv6Bytes(host)
  if (bytes === undefined) throw new InvalidOptionError('source', `Cannot write ${JSON.stringify(host)} as an IPv6 address`)
  return bytes
}
