// Properties of the length-prefixed decoders and encoder, for every prefix
// kind and any split of the stream into chunks.
import {
  FrameTooLargeError,
  IncompleteFrameError,
  type LengthPrefix,
  LengthPrefixedDecoder,
  LengthPrefixedEncoder,
  lengthPrefixedBatches,
  lengthPrefixedFrames,
  MalformedFrameError,
} from '@socketserver/handlers'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { chunksOf, stream } from '../chunked-input.js'
import { isViewOf } from './views.js'

const PREFIXES: readonly LengthPrefix[] = ['varint', 'uint8', 'uint16be', 'uint32be']
const CAPACITY: Record<LengthPrefix, number> = { varint: Number.MAX_SAFE_INTEGER, uint8: 255, uint16be: 65_535, uint32be: 2 ** 32 - 1 }

/** Frames that fit the prefix: mostly small, now and then one past 127 and 16,383 bytes (a 2- and 3-byte varint). */
function framesFor(prefix: LengthPrefix): fc.Arbitrary<Uint8Array[]> {
  const capacity = CAPACITY[prefix]
  const small = fc.uint8Array({ maxLength: Math.min(200, capacity) })
  const large = fc.integer({ min: 128, max: Math.min(20_000, capacity) }).map((length) => Buffer.alloc(length, length % 251))
  return fc.array(fc.oneof({ arbitrary: small, weight: 9 }, { arbitrary: large, weight: 1 }), { maxLength: 20 })
}

const prefixAndFrames = fc.constantFrom(...PREFIXES).chain((prefix) => fc.tuple(fc.constant(prefix), framesFor(prefix)))

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

const hexes = (frames: Uint8Array[]): string[] => frames.map((frame) => Buffer.from(frame).toString('hex'))

describe('length-prefixed framing properties (fast-check)', () => {
  test('lengthPrefixedFrames(encode(frames)) gives back the frames, for every prefix and any split into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(prefixAndFrames, fc.array(fc.nat()), fc.boolean(), async ([prefix, frames], cuts, byteByByte) => {
        const wire = new LengthPrefixedEncoder({ prefix }).encodeBatch(frames)
        // Byte by byte (when short): every prefix split between chunks too.
        const chunks = byteByByte && wire.length < 5_000 ? [...wire].map((byte) => Uint8Array.of(byte)) : chunksOf(wire, cuts)
        const decoded = await collect(lengthPrefixedFrames(stream(chunks), { prefix }))
        expect(hexes(decoded)).toEqual(hexes(frames))
      }),
    )
  })

  test('lengthPrefixedBatches() gives the same frames, in at most one non-empty batch per chunk', async () => {
    await fc.assert(
      fc.asyncProperty(prefixAndFrames, fc.array(fc.nat()), async ([prefix, frames], cuts) => {
        const encoder = new LengthPrefixedEncoder({ prefix })
        // One chunk per frame from the encoder as well as the whole batch: both encode the same bytes.
        const wire = Buffer.concat(frames.map((frame) => encoder.encode(frame)))
        expect(wire.equals(encoder.encodeBatch(frames))).toBe(true)
        const chunks = chunksOf(wire, cuts)
        const batches = await collect(lengthPrefixedBatches(stream(chunks), { prefix }))
        for (const batch of batches) expect(batch.length).toBeGreaterThan(0)
        expect(batches.length).toBeLessThanOrEqual(chunks.filter((chunk) => chunk.length > 0).length)
        expect(hexes(batches.flat())).toEqual(hexes(frames))
      }),
    )
  })

  test('a frame within one chunk is a view of it; never more than one frame (and a prefix) is held between chunks', async () => {
    await fc.assert(
      fc.property(prefixAndFrames, fc.array(fc.nat()), ([prefix, frames], cuts) => {
        const wire = new LengthPrefixedEncoder({ prefix }).encodeBatch(frames)
        const decoder = new LengthPrefixedDecoder({ prefix })
        const longest = Math.max(0, ...frames.map((frame) => frame.length))
        for (const chunk of chunksOf(wire, cuts)) {
          const heldBefore = decoder.buffered
          for (const frame of decoder.decode(chunk)) {
            if (heldBefore === 0 && frame.length > 0) expect(isViewOf(frame, chunk)).toBe(true)
          }
          expect(decoder.buffered).toBeLessThanOrEqual(longest + 8)
        }
        expect(decoder.end()).toEqual([])
      }),
    )
  })

  test('random bytes give frames or a typed error, never anything else; whatever decodes re-encodes to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PREFIXES),
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat()),
        fc.integer({ min: 0, max: 300 }),
        async (prefix, bytes, cuts, maxFrameSize) => {
          const frames: Buffer[] = []
          try {
            for await (const frame of lengthPrefixedFrames(stream(chunksOf(bytes, cuts)), { prefix, maxFrameSize })) frames.push(frame)
          } catch (error) {
            expect([FrameTooLargeError, MalformedFrameError, IncompleteFrameError].some((type) => error instanceof type)).toBe(true)
            const encoded = new LengthPrefixedEncoder({ prefix }).encodeBatch(frames)
            expect(Buffer.from(bytes).subarray(0, encoded.length).equals(encoded)).toBe(true)
            return
          }
          expect(new LengthPrefixedEncoder({ prefix }).encodeBatch(frames).equals(Buffer.from(bytes))).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  test('maxFrameSize: the frames before the first one too large, then FrameTooLargeError with its size, read from its prefix alone', async () => {
    await fc.assert(
      fc.asyncProperty(prefixAndFrames, fc.integer({ min: 0, max: 300 }), fc.array(fc.nat()), async ([prefix, frames], limit, cuts) => {
        const wire = new LengthPrefixedEncoder({ prefix }).encodeBatch(frames)
        const firstTooLarge = frames.findIndex((frame) => frame.length > limit)
        const decoded: Buffer[] = []
        const decoder = new LengthPrefixedDecoder({ prefix, maxFrameSize: limit })
        let failure: unknown
        try {
          for (const chunk of chunksOf(wire, cuts)) {
            decoder.decode(chunk, decoded)
            expect(decoder.buffered).toBeLessThanOrEqual(limit + 8)
          }
          decoder.end(decoded)
        } catch (error) {
          failure = error
        }
        if (firstTooLarge === -1) {
          expect(failure).toBeUndefined()
          expect(decoded.length).toBe(frames.length)
          return
        }
        expect(failure).toBeInstanceOf(FrameTooLargeError)
        expect((failure as FrameTooLargeError).size).toBe(frames[firstTooLarge]?.length)
        expect((failure as FrameTooLargeError).limit).toBe(limit)
        expect(hexes(decoded)).toEqual(hexes(frames.slice(0, firstTooLarge)))
        // Failed: the same error again.
        expect(() => decoder.decode(Buffer.from([0]))).toThrow(failure as Error)
      }),
    )
  })

  test('a stream cut anywhere inside a frame ends with IncompleteFrameError after the whole frames before the cut', async () => {
    await fc.assert(
      fc.asyncProperty(prefixAndFrames, fc.nat(), fc.array(fc.nat()), async ([prefix, frames], cutAt, cuts) => {
        const encoder = new LengthPrefixedEncoder({ prefix })
        const wire = encoder.encodeBatch(frames)
        fc.pre(wire.length > 0)
        const cut = cutAt % wire.length
        // Frame boundaries: a cut exactly on one is a clean end.
        const ends = [0]
        for (const frame of frames) ends.push((ends.at(-1) as number) + encoder.encode(frame).length)
        const decoded: Buffer[] = []
        let failure: unknown
        try {
          for await (const frame of lengthPrefixedFrames(stream(chunksOf(wire.subarray(0, cut), cuts)), { prefix })) decoded.push(frame)
        } catch (error) {
          failure = error
        }
        if (ends.includes(cut)) expect(failure).toBeUndefined()
        else expect(failure).toBeInstanceOf(IncompleteFrameError)
        const whole = ends.filter((end) => end > 0 && end <= cut).length
        expect(hexes(decoded)).toEqual(hexes(frames.slice(0, whole)))
      }),
    )
  })
})
