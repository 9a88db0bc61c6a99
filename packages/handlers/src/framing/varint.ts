/**
 * Unsigned varints (LEB128), as `uint8-varint` writes them for
 * `it-length-prefixed` and the multiformats unsigned-varint spec defines
 * them: seven bits a byte, least significant first, the high bit set on
 * every byte but the last.
 *
 * @internal
 * @module
 */

/**
 * The longest varint read: 8 bytes carry 56 bits, enough for any safe
 * integer (2^53 - 1). `it-length-prefixed` stops at the same length (its
 * `maxLengthLength`), and no frame length a Buffer can hold needs more.
 */
export const MAX_VARINT_BYTES = 8

/** 128 to the power of each byte's index: a byte's weight (exact in a double for all 8). */
export const VARINT_WEIGHTS: readonly number[] = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28, 2 ** 35, 2 ** 42, 2 ** 49]

/** How many bytes the varint of `value` (a safe integer of 0 or more) takes. */
export function varintLength(value: number): number {
  let bytes = 1
  while (bytes < MAX_VARINT_BYTES && value >= (VARINT_WEIGHTS[bytes] as number)) bytes++
  return bytes
}

/**
 * Writes the varint of `value` (a safe integer of 0 or more) into `target`
 * at `offset`.
 *
 * @returns The offset after it.
 */
export function writeVarint(value: number, target: Uint8Array, offset: number): number {
  let rest = value
  let at = offset
  // Division, not `>>>`: lengths past 2^32 (a varint may say up to 2^53 - 1) lose their high bits to 32-bit shifts.
  while (rest >= 0x80) {
    target[at++] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  target[at++] = rest
  return at
}
