/**
 * Length prefixes: their kinds, their options and the checks both the
 * decoder and the encoder make.
 *
 * @module
 */

import { constants } from 'node:buffer'
import { InvalidOptionError } from '@socketserver/core'

/**
 * How a frame's length is written before it: `'varint'`, an unsigned
 * LEB128 varint as `it-length-prefixed` writes it (1 byte up to 127, 2 up to
 * 16,383, ..., at most 8); or a fixed big-endian unsigned integer of 1, 2 or
 * 4 bytes (`'uint8'`, `'uint16be'`, `'uint32be'`, network byte order, as in
 * most binary protocols).
 */
export type LengthPrefix = 'varint' | 'uint8' | 'uint16be' | 'uint32be'

/**
 * The largest frame a length-prefixed decoder or encoder accepts by default:
 * 4 MiB, `it-length-prefixed`'s own default (its `maxDataLength`), so both
 * refuse the same frames. A decoder refuses a longer frame from its prefix,
 * before it buffers any of it: a peer cannot make a connection hold more
 * than this, however large a length it announces.
 */
export const DEFAULT_MAX_FRAME_SIZE = 4_194_304

/** Options of the length-prefixed decoders and encoders. */
export interface LengthPrefixedOptions {
  /** How lengths are written. Default `'varint'`, as `it-length-prefixed`. */
  prefix?: LengthPrefix
  /**
   * The most bytes a frame may have, its prefix not counted. Default
   * {@link DEFAULT_MAX_FRAME_SIZE}. A fixed prefix limits frames too (255
   * bytes for `'uint8'`, 65,535 for `'uint16be'`): the smaller limit holds.
   */
  maxFrameSize?: number
}

/** A prefix kind's facts: its size in bytes (0 for a varint) and the largest length it can say. */
export interface PrefixFacts {
  readonly kind: LengthPrefix
  readonly size: 0 | 1 | 2 | 4
  readonly capacity: number
}

const PREFIXES: Readonly<Record<LengthPrefix, PrefixFacts>> = {
  varint: { kind: 'varint', size: 0, capacity: Number.MAX_SAFE_INTEGER },
  uint8: { kind: 'uint8', size: 1, capacity: 0xff },
  uint16be: { kind: 'uint16be', size: 2, capacity: 0xffff },
  uint32be: { kind: 'uint32be', size: 4, capacity: 0xffff_ffff },
}

/** Checked options: the prefix's facts and the limit. */
export interface CheckedLengthPrefixedOptions {
  readonly prefix: PrefixFacts
  readonly maxFrameSize: number
}

/**
 * Checks and completes the options.
 *
 * @throws InvalidOptionError for an unknown prefix, or a maxFrameSize that
 *   is not a whole number from 0 to the largest Buffer.
 */
export function checkLengthPrefixedOptions(options: LengthPrefixedOptions = {}): CheckedLengthPrefixedOptions {
  const kind = options.prefix ?? 'varint'
  const prefix = Object.hasOwn(PREFIXES, kind) ? PREFIXES[kind] : undefined
  if (prefix === undefined) {
    throw new InvalidOptionError(
      'prefix',
      `Cannot use prefix ${JSON.stringify(kind)}: expected 'varint', 'uint8', 'uint16be' or 'uint32be'`,
    )
  }
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE
  // No Infinity: a frame is allocated whole once its prefix is read, and
  // Buffer.allocUnsafe past buffer.constants.MAX_LENGTH throws a RangeError
  // of its own rather than a typed error.
  if (!Number.isSafeInteger(maxFrameSize) || maxFrameSize < 0 || maxFrameSize > constants.MAX_LENGTH) {
    throw new InvalidOptionError(
      'maxFrameSize',
      `Cannot use maxFrameSize ${maxFrameSize}: expected a whole number from 0 to ${constants.MAX_LENGTH}`,
    )
  }
  return { prefix, maxFrameSize }
}

/** Bytes as hex pairs for a message: `80 80 01`. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ')
}
