/**
 * TLS and mutual TLS for `@socketserver/core` stream servers:
 * `withTLS(server, { key, cert })` runs each connection's handshake off the
 * accept path (bounded, each within `handshakeTimeoutMs`) with Node's own
 * `tls`, and hands out requests that read and write the TLS socket and say
 * what was agreed in `request.tls`.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs'
 * import { TCPServer, serve } from '@socketserver/core'
 * import { type TLSStreamRequest, withTLS } from '@socketserver/tls'
 *
 * const server = withTLS(await TCPServer.listen({ port: 0 }), {
 *   key: readFileSync('key.pem'),
 *   cert: readFileSync('cert.pem'),
 * })
 * const controller = new AbortController()
 * await serve(server, (request: TLSStreamRequest) => request.socket.end(`hello over ${request.tls.protocol}\n`), {
 *   signal: controller.signal,
 * })
 * ```
 *
 * @packageDocumentation
 */

export { TLSHandshakeError, type TLSHandshakeFailure } from './errors.js'
export {
  DEFAULT_HANDSHAKE_REPORT_INTERVAL_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  type KeyAndCertificate,
  type PEM,
  type TLSOptions,
} from './options.js'
export type { TLSInfo, TLSStreamRequest } from './tls-info.js'
export { type TLSStats, TLSStreamServer, tlsRefusedChannel, withTLS } from './tls-stream-server.js'
