import { BufferedReader, LineTooLongError } from '@socketserver/handlers'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bytesWithNewlines, chunksOf, stream } from './chunked-input.js'

describe('BufferedReader properties (fast-check)', () => {
  test('read(n) in any sizes returns exactly the bytes sent, for any split into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        bytesWithNewlines,
        fc.array(fc.nat()),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }),
        async (bytes, cuts, sizes) => {
          const reader = new BufferedReader(stream(chunksOf(bytes, cuts)))
          const parts: Uint8Array[] = []
          for (let i = 0; ; i++) {
            const part = await reader.read(sizes[i % sizes.length])
            if (part.length === 0) break
            parts.push(part)
          }
          expect(Buffer.concat(parts).equals(Buffer.from(bytes))).toBe(true)
        },
      ),
    )
  })

  test('readline() returns the same lines for any split, and they join back to the input', async () => {
    await fc.assert(
      fc.asyncProperty(bytesWithNewlines, fc.array(fc.nat()), async (bytes, cuts) => {
        const reader = new BufferedReader(stream(chunksOf(bytes, cuts)))
        const lines: Buffer[] = []
        for await (const line of reader.lines({ maxLength: 1_000 })) lines.push(Buffer.from(line))
        expect(Buffer.concat(lines).equals(Buffer.from(bytes))).toBe(true)
        for (const line of lines.slice(0, -1)) expect(line.indexOf(0x0a)).toBe(line.length - 1)
      }),
    )
  })

  test('readline() either returns a line within maxLength or throws LineTooLongError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(bytesWithNewlines, fc.array(fc.nat()), fc.integer({ min: 1, max: 64 }), async (bytes, cuts, maxLength) => {
        const reader = new BufferedReader(stream(chunksOf(bytes, cuts)))
        try {
          const line = await reader.readline({ maxLength })
          expect(line.length).toBeLessThanOrEqual(maxLength)
        } catch (error) {
          expect(error).toBeInstanceOf(LineTooLongError)
        }
      }),
    )
  })
})
