// Interoperability with it-length-prefixed (the libp2p framing): frames it
// writes, ours read, and the reverse, for a varint prefix (its default) and
// for fixed 1, 2 and 4-byte big-endian prefixes (through its lengthEncoder
// and lengthDecoder options); and both refuse the same over-long input.
import {
  FrameTooLargeError,
  type LengthPrefix,
  LengthPrefixedDecoder,
  LengthPrefixedEncoder,
  lengthPrefixedFrames,
  MalformedFrameError,
} from '@socketserver/handlers'
import fc from 'fast-check'
import * as lp from 'it-length-prefixed'
import { describe, expect, test } from 'vitest'
import { varintLength, writeVarint } from '../../../src/framing/varint.js'
import { chunksOf, stream } from '../chunked-input.js'

/** it-length-prefixed's list of chunks (uint8arraylist, which comes with it; not a dependency of ours). */
type Uint8ArrayList = Parameters<lp.LengthDecoderFunction>[0]

type Fixed = Exclude<LengthPrefix, 'varint'>
const SIZES: Record<Fixed, 1 | 2 | 4> = { uint8: 1, uint16be: 2, uint32be: 4 }

/** it-length-prefixed's lengthEncoder for a fixed big-endian prefix. */
function fixedEncoder(prefix: Fixed): lp.LengthEncoderFunction {
  const size = SIZES[prefix]
  const encode = (length: number): Uint8Array => {
    const bytes = Buffer.alloc(size)
    bytes.writeUIntBE(length, 0, size)
    return bytes
  }
  return Object.assign(encode, { bytes: size })
}

/** it-length-prefixed's lengthDecoder for a fixed big-endian prefix (a RangeError asks it for more bytes). */
function fixedDecoder(prefix: Fixed): lp.LengthDecoderFunction {
  const size = SIZES[prefix]
  const decode = (data: Uint8ArrayList): number => {
    if (data.byteLength < size) throw new RangeError('Cannot read the prefix: too few bytes')
    return size === 1 ? data.getUint8(0) : size === 2 ? data.getUint16(0) : data.getUint32(0)
  }
  return Object.assign(decode, { bytes: size })
}

/**
 * The prefix it-length-prefixed writes for a frame of `length` bytes,
 * without such a frame: its encoder yields the prefix first, then iterates
 * a chunk that is not a Uint8Array (this one yields nothing).
 */
function theirVarint(length: number): Buffer {
  const noBytes = { byteLength: length, *[Symbol.iterator]() {} } as unknown as Uint8Array
  const [prefix] = lp.encode([noBytes], { maxDataLength: Number.MAX_SAFE_INTEGER })
  return Buffer.from((prefix as Uint8Array | Uint8ArrayList).subarray())
}

const CAPACITY: Record<LengthPrefix, number> = { varint: 70_000, uint8: 255, uint16be: 65_535, uint32be: 70_000 }

/** Frames that fit the prefix, a few past 127 and 16,383 bytes. */
const prefixAndFrames = fc.constantFrom<LengthPrefix>('varint', 'uint8', 'uint16be', 'uint32be').chain((prefix) =>
  fc.tuple(
    fc.constant(prefix),
    fc.array(
      fc.oneof(
        { arbitrary: fc.uint8Array({ maxLength: Math.min(200, CAPACITY[prefix]) }), weight: 9 },
        {
          arbitrary: fc.integer({ min: 128, max: Math.min(20_000, CAPACITY[prefix]) }).map((length) => Buffer.alloc(length, length % 251)),
          weight: 1,
        },
      ),
      { maxLength: 20 },
    ),
  ),
)

const theirOptions = (prefix: LengthPrefix) =>
  prefix === 'varint' ? {} : { lengthEncoder: fixedEncoder(prefix), lengthDecoder: fixedDecoder(prefix) }

const hexes = (frames: Iterable<Uint8Array | Uint8ArrayList>): string[] =>
  [...frames].map((frame) => Buffer.from(frame.subarray()).toString('hex'))

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

describe('interoperability with it-length-prefixed (fast-check)', () => {
  test('frames it-length-prefixed encodes, lengthPrefixedFrames() decodes, for every prefix and any split', async () => {
    await fc.assert(
      fc.asyncProperty(prefixAndFrames, fc.array(fc.nat()), async ([prefix, frames], cuts) => {
        const wire = Buffer.concat([...lp.encode(frames, theirOptions(prefix))].map((chunk) => chunk.subarray()))
        const decoded = await collect(lengthPrefixedFrames(stream(chunksOf(wire, cuts)), { prefix }))
        expect(hexes(decoded)).toEqual(hexes(frames))
      }),
    )
  })

  test('frames LengthPrefixedEncoder encodes, it-length-prefixed decodes, for every prefix and any split', async () => {
    await fc.assert(
      fc.asyncProperty(prefixAndFrames, fc.array(fc.nat()), async ([prefix, frames], cuts) => {
        const wire = new LengthPrefixedEncoder({ prefix }).encodeBatch(frames)
        const decoded = await collect(lp.decode(stream(chunksOf(wire, cuts)), theirOptions(prefix)))
        expect(hexes(decoded)).toEqual(hexes(frames))
      }),
    )
  })

  test('the varint prefixes agree byte for byte for every length up to 2^53 - 1, and ours reads theirs as the same length', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat()), (length) => {
        const theirs = theirVarint(length)
        const ours = Buffer.alloc(varintLength(length))
        expect(writeVarint(length, ours, 0)).toBe(ours.length)
        expect(ours.toString('hex')).toBe(theirs.toString('hex'))
        // The decoder takes the prefix alone: a length over maxFrameSize is
        // refused with its size, one within it awaits its bytes (none is
        // allocated before they come).
        const decoder = new LengthPrefixedDecoder({ maxFrameSize: 2 ** 32 })
        try {
          const frames = decoder.decode(theirs)
          decoder.end(frames)
          expect(length).toBe(0)
          expect(frames).toEqual([Buffer.alloc(0)])
        } catch (error) {
          if (length > 2 ** 32) expect(error).toMatchObject({ name: 'FrameTooLargeError', size: length })
          else expect(error).toMatchObject({ name: 'IncompleteFrameError', expected: length, prefix: theirs })
        }
      }),
    )
  })

  test('both refuse a frame over the default limit of 4 MiB, from its prefix alone', async () => {
    const prefix = Buffer.from([0x81, 0x80, 0x80, 0x02]) // 4 MiB + 1 as a varint
    await expect(collect(lp.decode(stream([prefix])))).rejects.toMatchObject({ code: 'ERR_MSG_DATA_TOO_LONG' })
    await expect(collect(lengthPrefixedFrames(stream([prefix])))).rejects.toBeInstanceOf(FrameTooLargeError)
    await expect(collect(lengthPrefixedFrames(stream([prefix])))).rejects.toThrow(
      'Cannot read a frame: its length prefix says 4194305 bytes, more than maxFrameSize 4194304',
    )
  })

  test('both refuse a varint prefix that does not end within 8 bytes', async () => {
    const prefix = Buffer.alloc(9, 0x80)
    await expect(collect(lp.decode(stream([prefix])))).rejects.toMatchObject({ code: 'ERR_MSG_LENGTH_TOO_LONG' })
    await expect(collect(lengthPrefixedFrames(stream([prefix])))).rejects.toBeInstanceOf(MalformedFrameError)
  })
})
