/**
 * The error of XDR encoding and decoding.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * Bytes that are not a valid XDR value of the type asked for (too few, a
 * length over its bound, a boolean that is not 0 or 1, an enum value not
 * declared, non-zero padding, bytes left over), or a value that cannot be
 * encoded as that type (an integer out of range, a string too long). Never
 * a crash, never a read past the end.
 *
 * @example
 * ```ts
 * try { decode(xdr.int, new Uint8Array(3)) } catch (err) {
 *   if (err instanceof XdrError) console.error(err.message) // "Cannot decode int: 3 bytes left, 4 needed"
 * }
 * ```
 */
export class XdrError extends SocketServerError {
  /** @param message - What is wrong, naming the type. */
  constructor(message: string) {
    super(message, 'SS_ERR_XDR')
  }
}
