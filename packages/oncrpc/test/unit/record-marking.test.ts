import { markRecord, RecordDecoder, RecordTooLargeError } from '@socketserver/oncrpc'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

function fragment(bytes: number[], last: boolean): Buffer {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(((last ? 0x8000_0000 : 0) | bytes.length) >>> 0)
  return Buffer.concat([header, Buffer.from(bytes)])
}

describe('RecordDecoder', () => {
  test('a one-fragment record inside a chunk is a view of it, not a copy', () => {
    const chunk = Buffer.concat([fragment([1, 2, 3, 4], true), fragment([5, 6, 7, 8], true)])
    const records = new RecordDecoder().decode(chunk, [])
    expect(records.map((record) => [...record])).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ])
    expect(records[0]?.buffer).toBe(chunk.buffer)
  })

  test('joins the fragments of a record, and headers split across chunks', () => {
    const bytes = Buffer.concat([fragment([1, 2], false), fragment([], false), fragment([3, 4, 5], true), fragment([9], true)])
    const decoder = new RecordDecoder()
    const records: Uint8Array[] = []
    for (const byte of bytes) decoder.decode(Uint8Array.of(byte), records)
    expect(records.map((record) => [...record])).toEqual([[1, 2, 3, 4, 5], [9]])
    expect(decoder.inRecord).toBe(false)
  })

  test('knows when it holds part of a record', () => {
    const decoder = new RecordDecoder()
    decoder.decode(Uint8Array.of(0x80, 0), [])
    expect(decoder.inRecord).toBe(true)
    decoder.decode(Uint8Array.of(0, 1), [])
    expect(decoder.inRecord).toBe(true)
    expect(decoder.decode(Uint8Array.of(7), []).map((record) => [...record])).toEqual([[7]])
    expect(decoder.inRecord).toBe(false)
  })

  test('refuses a fragment that takes the record over the maximum, before reading it', () => {
    const decoder = new RecordDecoder(8)
    const into: Uint8Array[] = []
    const chunk = Buffer.concat([fragment([1], true), fragment([1, 2, 3, 4, 5, 6], false), fragment([1, 2, 3], true)])
    expect(() => decoder.decode(chunk, into)).toThrow(RecordTooLargeError)
    expect(into.map((record) => [...record])).toEqual([[1]])
    // A header announcing 2^31 - 1 bytes is refused on its own.
    expect(() => new RecordDecoder().decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff), [])).toThrow(/maximum is 16777216/)
  })

  test('any split of any records gives the same records back (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 3 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
        (records, cuts) => {
          const wire = Buffer.concat(
            records.flatMap((fragments) => fragments.map((bytes, i) => fragment([...bytes], i === fragments.length - 1))),
          )
          const decoder = new RecordDecoder()
          const out: Uint8Array[] = []
          let at = 0
          let cut = 0
          while (at < wire.length) {
            const size = cuts[cut++ % cuts.length] as number
            decoder.decode(wire.subarray(at, at + size), out)
            at += size
          }
          expect(out.map((record) => Buffer.from(record).toString('hex'))).toEqual(
            records.map((fragments) => Buffer.concat(fragments).toString('hex')),
          )
          expect(decoder.inRecord).toBe(false)
        },
      ),
    )
  })

  test('a record of a hundred thousand one-byte fragments is joined in one buffer', () => {
    const wire = Buffer.alloc(100_000 * 5)
    for (let i = 0; i < 100_000; i++) {
      wire.writeUInt32BE(((i === 99_999 ? 0x8000_0000 : 0) | 1) >>> 0, i * 5)
      wire[i * 5 + 4] = i & 0xff
    }
    const records = new RecordDecoder().decode(wire, [])
    expect(records).toHaveLength(1)
    expect(records[0]?.length).toBe(100_000)
    expect(records[0]?.[99_999]).toBe(99_999 & 0xff)
  })

  test('markRecord writes one last fragment', () => {
    expect([...markRecord(Uint8Array.of(1, 2))]).toEqual([0x80, 0, 0, 2, 1, 2])
  })
})
