/**
 * CRC-32C (Castagnoli), the checksum of version 2's `PP2_TYPE_CRC32C`.
 *
 * @module
 * @internal
 */

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78

const TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** The CRC-32C of `bytes`, an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff
  for (let i = 0; i < bytes.length; i++) crc = (TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
