/**
 * Parsing a PROXY protocol header of either version from the first bytes
 * of a connection.
 *
 * @module
 */

import { ProxyProtocolError } from './errors.js'
import type { ProxyHeader } from './header.js'
import { parseV1, V1_PREFIX } from './parse-v1.js'
import { parseV2, V2_SIGNATURE } from './parse-v2.js'

/** Which versions a receiver accepts: one, or either (told apart by their first bytes, never guessed). */
export type ProxyProtocolVersion = 'v1' | 'v2' | 'any'

/** A parsed header and how many bytes of the input it took; the rest is the client's data. */
export interface ParsedProxyHeader {
  /** What the header says. */
  readonly header: ProxyHeader
  /** How many bytes it took: the client's data starts there. */
  readonly length: number
}

/**
 * Parses the PROXY protocol header at the start of `bytes`: the bytes a
 * connection received so far. Call it again with more bytes while it
 * returns undefined.
 *
 * The receiver never guesses: `bytes` must start with the version 1 prefix
 * (`PROXY `) or the version 2 signature of an accepted version, else the
 * header is refused as soon as the first byte that cannot belong to one
 * arrives.
 *
 * @param bytes - The connection's first bytes.
 * @param accept - `v1`, `v2` or `any`.
 * @returns The header and its length, or undefined when more bytes are needed.
 * @throws ProxyProtocolError (`malformed`) for anything that is not a valid
 *   header of an accepted version (see `parseV1` and `parseV2` in the
 *   sources for every rule).
 * @example
 * ```ts
 * const parsed = parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /'), 'v1')
 * parsed?.header.source // { transport: 'tcp', host: '192.0.2.1', port: 56324, family: 'IPv4' }
 * parsed?.length // 44: the request's own bytes start there
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array, accept: ProxyProtocolVersion): ParsedProxyHeader | undefined {
  const v1 = accept !== 'v2' && startsLike(bytes, V1_PREFIX)
  const v2 = accept !== 'v1' && startsLike(bytes, V2_SIGNATURE)
  if (!v1 && !v2) {
    const expected = accept === 'v1' ? 'the v1 prefix "PROXY "' : accept === 'v2' ? 'the v2 signature' : 'a v1 prefix or a v2 signature'
    throw new ProxyProtocolError('malformed', `the connection does not start with a PROXY header (expected ${expected})`)
  }
  if (v1 && bytes.length >= V1_PREFIX.length) return parseV1(bytes)
  if (v2 && bytes.length >= V2_SIGNATURE.length) return parseV2(bytes)
  return undefined
}

/** Whether `bytes` agrees with `prefix` as far as either goes. */
function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
