/**
 * `@socketserver/oncrpc`: ONC RPC (Sun RPC, RFC 5531) for socketserver
 * servers. This first part is XDR (RFC 4506): types as values, composed
 * into a protocol's types, with the value types inferred; every bound
 * enforced both ways; malformed bytes an {@link XdrError}, never a crash
 * or a read past the end.
 *
 * @example
 * ```ts
 * import { decode, encode, xdr, type XdrValue } from '@socketserver/oncrpc'
 * const Entry = xdr.struct({ key: xdr.string(256), value: xdr.varOpaque(1024) })
 * type Entry = XdrValue<typeof Entry>
 * const bytes = encode(Entry, { key: 'k', value: Uint8Array.of(1, 2, 3) })
 * decode(Entry, bytes)
 * ```
 *
 * @packageDocumentation
 */

export { XdrError } from './xdr/xdr-error.js'
export { XdrReader } from './xdr/xdr-reader.js'
export { decode, encode, type XdrType, type XdrUnionValue, type XdrValue, xdr } from './xdr/xdr-types.js'
export { XdrWriter } from './xdr/xdr-writer.js'
