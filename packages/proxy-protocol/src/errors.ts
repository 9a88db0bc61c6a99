/**
 * Typed errors of `@socketserver/proxy-protocol`.
 *
 * @module
 */

import { formatAddress, type SocketAddress, SocketServerError } from '@socketserver/core'

/** Why a connection was refused: see {@link ProxyProtocolError.reason}. */
export type ProxyProtocolFailure = 'malformed' | 'untrusted' | 'timeout' | 'ended'

/**
 * A connection was refused before any handler saw it because its PROXY
 * protocol header was not acceptable, with `reason`:
 *
 * - `malformed`: not a header of an accepted version, a field out of the
 *   specification, a header longer than it allows (107 bytes for version 1,
 *   16 plus its length for version 2), or a CRC32C that does not match;
 * - `untrusted`: the peer is not one of `trustedProxies`, so its header
 *   is not believed and the connection is closed before a byte is read;
 * - `timeout`: the header was not complete within `proxyHeaderTimeoutMs`;
 * - `ended`: the peer closed (or reset) the connection before its header
 *   was complete.
 *
 * The server keeps serving. Counted in the wrapper's `stats`, published on
 * `socketserver:proxy:refused` and passed to `serve()`'s `handleError`
 * (which prints one line per refusal by default, except for `ended`).
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err, request) => {
 *   if (err instanceof ProxyProtocolError && err.reason === 'timeout') slowProxies++
 *   else defaultHandleError(err, request)
 * } })
 * ```
 */
export class ProxyProtocolError extends SocketServerError {
  /** Why the header was refused. */
  readonly reason: ProxyProtocolFailure
  /** The peer that sent it (the proxy, or whoever connected), when known. */
  readonly clientAddress: SocketAddress | undefined
  /** What exactly was wrong: the message without the peer. */
  readonly detail: string

  /**
   * @param reason - Why it was refused.
   * @param detail - What exactly was wrong, for the message.
   * @param clientAddress - The peer, when known.
   * @param options - `cause`.
   */
  constructor(reason: ProxyProtocolFailure, detail: string, clientAddress?: SocketAddress, options?: { cause?: unknown }) {
    const from = clientAddress === undefined ? '' : ` from ${formatAddress(clientAddress)}`
    super(`Cannot accept the connection${from}: ${detail}`, 'SS_ERR_PROXY_PROTOCOL', options)
    this.reason = reason
    this.clientAddress = clientAddress
    this.detail = detail
  }
}
