/**
 * The PROXY protocol (versions 1 and 2, as HAProxy's proxy-protocol.txt
 * specifies them) for `@socketserver/core` stream servers: a load balancer
 * in front tells each connection's original client in a header, and
 * `withProxyProtocol(server)` reads it, checks that it came from a trusted
 * proxy, and hands out the same requests with `clientAddress` set to that
 * client.
 *
 * @example
 * ```ts
 * import { TCPServer, formatAddress, serve } from '@socketserver/core'
 * import { withProxyProtocol } from '@socketserver/proxy-protocol'
 *
 * const server = withProxyProtocol(await TCPServer.listen({ port: 0 }), { trustedProxies: ['10.0.0.0/8'] })
 * const controller = new AbortController()
 * await serve(server, (request) => request.socket.end(`hello ${formatAddress(request.clientAddress)}\n`), {
 *   signal: controller.signal,
 * })
 * ```
 *
 * @packageDocumentation
 */

export { encodeProxyHeaderV1, encodeProxyHeaderV2, type ProxyHeaderFields } from './encode.js'
export { ProxyProtocolError, type ProxyProtocolFailure } from './errors.js'
export { type ProxyHeader, type ProxySSLInfo, type ProxyTLV, TLV_TYPES } from './header.js'
export { DEFAULT_MAX_PENDING_HEADERS, DEFAULT_PROXY_HEADER_TIMEOUT_MS, type ProxyProtocolOptions } from './options.js'
export { type ParsedProxyHeader, type ProxyProtocolVersion, parseProxyHeader } from './parse.js'
export type { ProxiedFacts, ProxiedStreamRequest } from './proxied-request.js'
export { ProxyProtocolServer, type ProxyProtocolStats, proxyRefusedChannel, withProxyProtocol } from './proxy-protocol-server.js'
export { DEFAULT_TRUSTED_PROXIES, TrustedProxies } from './trusted-proxies.js'
