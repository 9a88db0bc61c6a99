/**
 * Echo, RFC 862: send back whatever is received.
 *
 * @module
 */

import type { SocketRequest } from '@socketserver/core'

/**
 * Echoes a stream until the client ends it, or a datagram as one datagram.
 *
 * @param request - A stream or datagram request.
 * @example
 * ```sh
 * socketserver serve echo --tcp 127.0.0.1:7007 --udp 127.0.0.1:7007
 * ```
 */
export default async function echo(request: SocketRequest): Promise<void> {
  if (request.kind === 'datagram') return request.reply(request.data)
  await request.sink(request.source)
}
