// The core's stream connections offer BufferedReader a read through a
// callback (`source.nextChunk(deliver)`, ConnectionSource) instead of next(). These
// properties check that readline() over such a source behaves exactly as it
// does over a plain async iterator: the same lines, the same
// LineTooLongErrors at the same places, the same end; whether each chunk is
// delivered at once or later.
import { BufferedReader, LineTooLongError } from '@socketserver/handlers'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bytesWithNewlines, chunksOf, stream } from './chunked-input.js'

type Deliver = (chunk: Uint8Array | undefined, error?: Error) => void

/**
 * A source with the callback read: chunk i is delivered at once when
 * `now[i]` is true, otherwise from a later macrotask (as a socket's data
 * arrives); after the chunks, the end, or `failure` when given.
 */
function laterSource(chunks: Uint8Array[], now: boolean[], failure?: Error): AsyncIterable<Uint8Array> {
  let index = 0
  const deliverNext = (deliver: Deliver): void => {
    const at = index++
    const chunk = chunks[at]
    if (chunk === undefined) deliver(undefined, failure)
    else deliver(chunk)
  }
  const iterator = {
    next: (): Promise<IteratorResult<Uint8Array>> => Promise.reject(new Error('the callback read should be used')),
    nextChunk: (deliver: Deliver): void => {
      if (now[index % Math.max(now.length, 1)] === true) deliverNext(deliver)
      else setImmediate(() => deliverNext(deliver))
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
  return iterator as unknown as AsyncIterable<Uint8Array>
}

/** Every readline() outcome until the end: lines as text, over-long lines as 'TOO LONG'. */
async function outcomes(reader: BufferedReader, maxLength: number): Promise<string[]> {
  const seen: string[] = []
  for (let i = 0; i < 1_000; i++) {
    try {
      const line = await reader.readline({ maxLength })
      if (line.length === 0) return seen
      seen.push(line.toString('latin1'))
    } catch (error) {
      if (!(error instanceof LineTooLongError)) throw error
      seen.push('TOO LONG')
    }
  }
  throw new Error('Cannot finish reading: more than 1,000 outcomes')
}

describe('BufferedReader over a source with the callback read (fast-check)', () => {
  test('readline() gives the same outcomes as over a plain async iterator, for any split, timing and maxLength', async () => {
    await fc.assert(
      fc.asyncProperty(
        bytesWithNewlines,
        fc.array(fc.nat()),
        fc.array(fc.boolean()),
        fc.integer({ min: 1, max: 80 }),
        async (bytes, cuts, now, maxLength) => {
          const chunks = chunksOf(bytes, cuts)
          const expected = await outcomes(new BufferedReader(stream(chunks)), maxLength)
          const actual = await outcomes(new BufferedReader(laterSource(chunks, now)), maxLength)
          expect(actual).toEqual(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  test('a source failure rejects the pending readline() with that error, after the lines before it', async () => {
    await fc.assert(
      fc.asyncProperty(bytesWithNewlines, fc.array(fc.nat()), fc.array(fc.boolean()), async (bytes, cuts, now) => {
        const failure = new Error('reset')
        const reader = new BufferedReader(laterSource(chunksOf(bytes, cuts), now, failure))
        const lines: Buffer[] = []
        let caught: unknown
        for (;;) {
          try {
            lines.push(await reader.readline({ maxLength: 1_000 }))
          } catch (error) {
            caught = error
            break
          }
        }
        expect(caught).toBe(failure)
        // Only whole lines came before the failure; their bytes are a prefix of the input.
        for (const line of lines) expect(line.at(-1)).toBe(0x0a)
        expect(Buffer.from(bytes).subarray(0, Buffer.concat(lines).length).equals(Buffer.concat(lines))).toBe(true)
      }),
      { numRuns: 100 },
    )
  })
})
