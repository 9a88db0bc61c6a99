/**
 * Discard, RFC 863: throw away whatever is received, reply nothing.
 *
 * @module
 */

import type { SocketRequest } from '@socketserver/core'

/**
 * Reads a stream to its end and drops it; ignores datagrams.
 *
 * @param request - A stream or datagram request.
 * @example
 * ```sh
 * socketserver serve discard --tcp 127.0.0.1:9009
 * ```
 */
export default async function discard(request: SocketRequest): Promise<void> {
  if (request.kind === 'datagram') return
  for await (const _ of request.source) {
    // Dropped, as the RFC asks.
  }
}
