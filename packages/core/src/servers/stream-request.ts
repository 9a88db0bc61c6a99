/**
 * Making a stream request over a socket of your own.
 *
 * @module
 */

import type { Socket } from 'node:net'
import type { Request, Server, StreamRequest } from '../types.js'
import { type PeerAddress, StreamConnection } from './stream-connection.js'

/**
 * A {@link StreamRequest} over a connected socket that no server of ours
 * accepted: a `tls.TLSSocket` a wrapper made from an accepted connection,
 * or a socket of a source of your own. It behaves as the requests our
 * servers hand out (its `source`, `sink`, `close()`, `abort()`, the stop
 * notice, the fast paths of the request runner), so `serve()` and the
 * policies treat it as theirs.
 *
 * The socket should be paused with nothing read yet (or what was read put
 * back with `unshift`): the request's reader starts it.
 *
 * @param socket - A connected socket (`net.Socket` or a subclass).
 * @param clientAddress - The peer, or a function that reads it from the
 *   socket when first asked for.
 * @param server - The server the request belongs to (a wrapper hands out
 *   its own).
 * @returns The request.
 * @example
 * ```ts
 * const secure = new tls.TLSSocket(request.socket, { isServer: true, secureContext })
 * await once(secure, 'secure')
 * return streamRequest(secure, request.clientAddress, this)
 * ```
 */
export function streamRequest(socket: Socket, clientAddress: PeerAddress, server: Server<Request>): StreamRequest {
  return new StreamConnection(socket, clientAddress, server)
}
