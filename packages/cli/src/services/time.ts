/**
 * Time, RFC 868: seconds since 1900-01-01 00:00 UTC as 32 bits.
 *
 * @module
 */

import type { SocketRequest } from '@socketserver/core'

/** Seconds from 1900-01-01 to 1970-01-01, the Unix epoch. */
const SECONDS_1900_TO_1970 = 2_208_988_800

/**
 * The RFC 868 time: 4 bytes, big-endian, seconds since 1900 (modulo 2^32,
 * so it wraps in 2036 as the RFC's format does).
 *
 * @param now - The time. Default now.
 * @returns The 4 bytes.
 * @example
 * ```ts
 * timeBytes(new Date(0)) // <Buffer 83 aa 7e 80>
 * ```
 */
export function timeBytes(now = new Date()): Buffer {
  const bytes = Buffer.alloc(4)
  // Modulo 2^32 both ways: past 2036 it wraps to 0, before 1900 it wraps from 2^32.
  const seconds = Math.floor(now.getTime() / 1000) + SECONDS_1900_TO_1970
  bytes.writeUInt32BE(((seconds % 2 ** 32) + 2 ** 32) % 2 ** 32)
  return bytes
}

/**
 * Sends the time and closes (stream), or replies it (datagram).
 *
 * @param request - A stream or datagram request.
 * @example
 * ```sh
 * socketserver serve time --udp 127.0.0.1:3737
 * ```
 */
export default async function time(request: SocketRequest): Promise<void> {
  if (request.kind === 'datagram') return request.reply(timeBytes())
  request.socket.write(timeBytes())
}
