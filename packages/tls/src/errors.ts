/**
 * Typed errors of `@socketserver/tls`.
 *
 * @module
 */

import { formatAddress, type SocketAddress, SocketServerError } from '@socketserver/core'

/** Why a handshake failed: see {@link TLSHandshakeError.reason}. */
export type TLSHandshakeFailure = 'timeout' | 'unauthorized' | 'failed' | 'ended'

/**
 * A connection's TLS handshake did not complete, so no handler saw it, with
 * `reason`:
 *
 * - `timeout`: not done within `handshakeTimeoutMs` (a client that sends
 *   nothing, or its ClientHello a byte at a time);
 * - `unauthorized`: `clientCertificate: 'require'` and the client sent no
 *   certificate, or one the `ca` did not sign (or expired);
 * - `failed`: anything else the TLS layer refused (not TLS at all, no
 *   protocol version or cipher in common, an unknown ALPN protocol);
 * - `ended`: the client closed or reset the connection first.
 *
 * Counted in the server's `stats`, published on `socketserver:tls:refused`;
 * passed to `serve()`'s `handleError` only with `reportHandshakeErrors:
 * true` (port scans and health checks would fill stderr), else summed up in
 * at most one stderr line per `handshakeReportIntervalMs`.
 *
 * @example
 * ```ts
 * serve(withTLS(server, { key, cert, reportHandshakeErrors: true }), handler, {
 *   handleError: (err) => { if (err instanceof TLSHandshakeError) failures[err.reason]++ },
 * })
 * ```
 */
export class TLSHandshakeError extends SocketServerError {
  /** Why the handshake failed. */
  readonly reason: TLSHandshakeFailure
  /** The peer, when known. */
  readonly clientAddress: SocketAddress | undefined

  /**
   * @param reason - Why it failed.
   * @param detail - What exactly happened, for the message.
   * @param clientAddress - The peer.
   * @param options - `cause`: the TLS layer's error.
   */
  constructor(reason: TLSHandshakeFailure, detail: string, clientAddress?: SocketAddress, options?: { cause?: unknown }) {
    const from = clientAddress === undefined ? '' : ` from ${formatAddress(clientAddress)}`
    super(`Cannot complete the TLS handshake${from}: ${detail}`, 'SS_ERR_TLS_HANDSHAKE', options)
    this.reason = reason
    this.clientAddress = clientAddress
  }
}
