/**
 * What a request that came through a proxy says beyond any request.
 *
 * @module
 */

import type { SocketAddress, StreamRequest } from '@socketserver/core'
import type { ProxyHeader } from './header.js'

/** What a request served behind a proxy also says. */
export interface ProxiedFacts {
  /**
   * The connection's own peer: the proxy. `clientAddress` is the client the
   * proxy relays (the header's source), or this same address for a `local`
   * header (a health check) or one without addresses.
   */
  readonly proxyAddress: SocketAddress
  /** The header as parsed: version, command, destination, TLVs. */
  readonly proxy: ProxyHeader
}

/** A stream request that came through a proxy. */
export type ProxiedStreamRequest = StreamRequest & ProxiedFacts

/**
 * The same request, with the facts of its header: own enumerable
 * properties, so that `forked()` hands them to its children.
 *
 * @internal
 */
export function annotate<R extends StreamRequest>(request: R, header: ProxyHeader): R & ProxiedFacts {
  const proxyAddress = request.clientAddress
  const clientAddress = header.command === 'proxy' && header.source !== undefined ? header.source : proxyAddress
  // The class's clientAddress is a getter: an own property shadows it.
  Object.defineProperty(request, 'clientAddress', { value: clientAddress, enumerable: true })
  const proxied = request as R & { proxyAddress: SocketAddress; proxy: ProxyHeader }
  proxied.proxyAddress = proxyAddress
  proxied.proxy = header
  return proxied
}
