/**
 * What wrappers added to a stream request.
 *
 * @module
 */

import type { StreamRequest } from '../types.js'

/** What a stream request's own object holds that is the connection itself, not a fact added to it. */
const CONNECTION_KEYS = new Set(['kind', 'socket', 'server', 'clientAddress'])

/**
 * The facts wrappers added to a stream request as own enumerable
 * properties (`proxyAddress` and `proxy` of a PROXY wrapper, say), by name;
 * undefined when there are none. `forked()` sends them to the child with
 * the connection, and a wrapper that hands out a new request over another
 * socket (TLS) copies them onto it, so the facts of every wrapper beneath
 * stay with the request.
 *
 * @param request - A stream request, ours or a wrapper's.
 * @returns The added properties, or undefined.
 * @example
 * ```ts
 * const secured = streamRequest(tlsSocket, request.clientAddress, this)
 * Object.assign(secured, requestFacts(request))
 * ```
 */
export function requestFacts(request: StreamRequest): Record<string, unknown> | undefined {
  let facts: Record<string, unknown> | undefined
  for (const key of Object.keys(request)) {
    if (CONNECTION_KEYS.has(key)) continue
    facts ??= {}
    facts[key] = (request as unknown as Record<string, unknown>)[key]
  }
  return facts
}
