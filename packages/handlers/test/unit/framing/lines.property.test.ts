// Properties of the line decoders and encoder, for any split of the stream
// into chunks; BufferedReader.lines() is the reference they must agree with.
import {
  BufferedReader,
  LineDecoder,
  LineEncoder,
  LineTooLongError,
  lineBatches,
  lines,
  MalformedFrameError,
  trimLineEnd,
} from '@socketserver/handlers'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bytesWithNewlines, chunksOf, stream } from '../chunked-input.js'
import { isViewOf } from './views.js'

/** Every outcome of an iteration: lines as latin1 text, then 'END' or the error's name. */
async function outcomes(iterable: AsyncIterable<Uint8Array | Uint8Array[]>): Promise<string[]> {
  const seen: string[] = []
  try {
    for await (const item of iterable) {
      for (const line of Array.isArray(item) ? item : [item]) seen.push(Buffer.from(line).toString('latin1'))
    }
    seen.push('END')
  } catch (error) {
    seen.push(error instanceof LineTooLongError ? 'TOO LONG' : String(error))
  }
  return seen
}

/** Up to 300 bytes, about one in 31 a newline: lines longer than the reader's. */
const longerLines = fc.uint8Array({ maxLength: 300, size: 'max' }).map((bytes) => bytes.map((byte) => (byte % 31 === 0 ? 0x0a : byte)))

/** Lines without a newline, some with a `\r` at the end. */
const lineTexts = fc.array(
  fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes.filter((byte) => byte !== 0x0a))),
  { maxLength: 30 },
)

describe('line framing properties (fast-check)', () => {
  test('lines() and lineBatches() give what BufferedReader.lines() gives, for any input, split, maxLength and tooLong', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(bytesWithNewlines, longerLines),
        fc.array(fc.nat()),
        fc.boolean(),
        fc.integer({ min: 1, max: 80 }),
        fc.constantFrom<'throw' | 'skip'>('throw', 'skip'),
        async (bytes, cuts, byteByByte, maxLength, tooLong) => {
          // Byte by byte: lines held over many chunks, past the decoder's switch from views to one buffer.
          const chunks = byteByByte ? [...bytes].map((byte) => Uint8Array.of(byte)) : chunksOf(bytes, cuts)
          const expected = await outcomes(new BufferedReader(stream(chunks)).lines({ maxLength, tooLong }))
          expect(await outcomes(lines(stream(chunks), { maxLength, tooLong }))).toEqual(expected)
          expect(await outcomes(lineBatches(stream(chunks), { maxLength, tooLong }))).toEqual(expected)
        },
      ),
      { numRuns: 300 },
    )
  })

  test('never more than maxLength bytes are held between chunks, and a line within one chunk is a view of it', () => {
    fc.assert(
      fc.property(
        bytesWithNewlines,
        fc.array(fc.nat()),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom<'throw' | 'skip'>('throw', 'skip'),
        (bytes, cuts, maxLength, tooLong) => {
          const decoder = new LineDecoder({ maxLength, tooLong })
          try {
            for (const chunk of chunksOf(bytes, cuts)) {
              const heldBefore = decoder.buffered
              const found = decoder.decode(chunk)
              for (const line of heldBefore === 0 ? found : found.slice(1)) expect(isViewOf(line, chunk)).toBe(true)
              expect(decoder.buffered).toBeLessThanOrEqual(maxLength)
            }
          } catch (error) {
            expect(error).toBeInstanceOf(LineTooLongError)
          }
        },
      ),
    )
  })

  test('decoding encoded lines gives them back with their newline, for any split; trimLineEnd() takes it off again', async () => {
    await fc.assert(
      fc.asyncProperty(lineTexts, fc.array(fc.nat()), async (texts, cuts) => {
        const wire = new LineEncoder().encodeBatch(texts)
        const decoded: Buffer[] = []
        for await (const line of lines(stream(chunksOf(wire, cuts)))) decoded.push(line)
        expect(decoded.map((line) => line.toString('latin1'))).toEqual(texts.map((text) => `${text.toString('latin1')}\n`))
        // A `\r` at the end of a line is part of a `\r\n` ending once encoded.
        expect(decoded.map((line) => trimLineEnd(line).toString('latin1'))).toEqual(
          texts.map((text) => text.toString('latin1').replace(/\r$/, '')),
        )
        // Encoding a decoded line (newline included) writes it as it was.
        expect(new LineEncoder().encodeBatch(decoded).equals(wire)).toBe(true)
      }),
    )
  })

  test('the encoder refuses a line with a newline before its end, and one longer than maxLength', () => {
    fc.assert(
      fc.property(bytesWithNewlines, fc.integer({ min: 1, max: 100 }), (bytes, maxLength) => {
        const encoder = new LineEncoder({ maxLength })
        const newline = bytes.indexOf(0x0a)
        const endsWithNewline = bytes.length > 0 && newline === bytes.length - 1
        const size = endsWithNewline ? bytes.length : bytes.length + 1
        try {
          const encoded = encoder.encode(bytes)
          expect(newline === -1 || endsWithNewline).toBe(true)
          expect(encoded.length).toBe(size)
          expect(size).toBeLessThanOrEqual(maxLength)
        } catch (error) {
          if (error instanceof MalformedFrameError) expect(newline).toBeLessThan(bytes.length - 1)
          else expect(error).toMatchObject({ name: 'FrameTooLargeError', size, limit: maxLength })
        }
      }),
    )
  })
})
