import { decode, encode, XdrError, type XdrType, xdr } from '@socketserver/oncrpc'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

/** An XDR type and values of it, built at random: any type `.x` files use, nested. */
interface Sample {
  type: XdrType<unknown>
  value: fc.Arbitrary<unknown>
}

const leaves: fc.Arbitrary<Sample> = fc.constantFrom<Sample>(
  { type: xdr.int, value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  { type: xdr.unsigned, value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) },
  { type: xdr.hyper, value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  { type: xdr.unsignedHyper, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  { type: xdr.float, value: fc.float({ noNaN: true }) },
  { type: xdr.double, value: fc.double({ noNaN: true }) },
  { type: xdr.bool, value: fc.boolean() },
  { type: xdr.void as XdrType<unknown>, value: fc.constant(undefined) },
  { type: xdr.enumeration({ RED: 0, GREEN: 1, BLUE: -7 }) as XdrType<unknown>, value: fc.constantFrom('RED', 'GREEN', 'BLUE') },
  { type: xdr.opaque(5), value: fc.uint8Array({ minLength: 5, maxLength: 5 }) },
  { type: xdr.varOpaque(9), value: fc.uint8Array({ maxLength: 9 }) },
  { type: xdr.string(12) as XdrType<unknown>, value: fc.string({ maxLength: 3 }) },
)

const samples: fc.Arbitrary<Sample> = fc.letrec<{ sample: Sample }>((tie) => ({
  sample: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaves,
    tie('sample').map((inner) => ({
      type: xdr.array(inner.type, 2) as XdrType<unknown>,
      value: fc.array(inner.value, { minLength: 2, maxLength: 2 }),
    })),
    tie('sample').map((inner) => ({
      type: xdr.varArray(inner.type, 3) as XdrType<unknown>,
      value: fc.array(inner.value, { maxLength: 3 }),
    })),
    tie('sample').map((inner) => ({
      type: xdr.optional(inner.type) as XdrType<unknown>,
      value: fc.option(inner.value, { nil: undefined }),
    })),
    fc.tuple(tie('sample'), tie('sample')).map(([a, b]) => ({
      type: xdr.struct({ a: a.type, b: b.type }) as XdrType<unknown>,
      value: fc.record({ a: a.value, b: b.value }),
    })),
    fc.tuple(tie('sample'), tie('sample')).map(([a, b]) => ({
      type: xdr.union(xdr.int, { 1: a.type, 2: b.type }) as XdrType<unknown>,
      value: fc.oneof(
        a.value.map((value) => ({ tag: 1, value })),
        b.value.map((value) => ({ tag: 2, value })),
      ),
    })),
  ),
})).sample

/** A value with its float rounded as XDR's single precision keeps it. */
function normalised(type: XdrType<unknown>, value: unknown): unknown {
  return decode(type, encode(type, value))
}

describe('XDR, for any value of any type', () => {
  test('decode(encode(v)) is v (a float as its single-precision self), and the encoding is a multiple of 4 bytes', () => {
    fc.assert(
      fc.property(
        samples.chain((sample) => sample.value.map((value) => ({ sample, value }))),
        ({ sample, value }) => {
          const bytes = encode(sample.type, value)
          expect(bytes.length % 4).toBe(0)
          const once = decode(sample.type, bytes)
          // Floats lose precision once; after that the round trip is exact.
          expect(normalised(sample.type, once)).toEqual(once)
          if (!sample.type.name.includes('float')) expect(once).toEqual(value)
        },
      ),
      { numRuns: 2_000 },
    )
  })

  test('every proper prefix of an encoding is refused with XdrError (never a crash, never a wrong value)', () => {
    fc.assert(
      fc.property(
        samples.chain((sample) => sample.value.map((value) => ({ sample, value }))),
        ({ sample, value }) => {
          const bytes = encode(sample.type, value)
          for (let cut = 0; cut < bytes.length; cut++) {
            expect(() => decode(sample.type, bytes.subarray(0, cut))).toThrow(XdrError)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  test('random bytes only decode or throw XdrError, for any type', () => {
    fc.assert(
      fc.property(samples, fc.uint8Array({ maxLength: 64 }), (sample, bytes) => {
        try {
          decode(sample.type, bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(XdrError)
        }
      }),
      { numRuns: 3_000 },
    )
  })
})

describe('XDR, exactly', () => {
  test('the wire form RFC 4506 gives: big-endian, lengths first, zero padding to 4', () => {
    expect([...encode(xdr.int, -2)]).toEqual([0xff, 0xff, 0xff, 0xfe])
    expect([...encode(xdr.string(8), 'hi')]).toEqual([0, 0, 0, 2, 0x68, 0x69, 0, 0])
    expect([...encode(xdr.hyper, -1n)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    expect([...encode(xdr.optional(xdr.int), undefined)]).toEqual([0, 0, 0, 0])
    expect([...encode(xdr.union(xdr.enumeration({ A: 0, B: 5 }), { B: xdr.bool }), { tag: 'B', value: true })]).toEqual([
      0, 0, 0, 5, 0, 0, 0, 1,
    ])
  })

  test('bounds are enforced both ways, and malformed input is refused naming the type', () => {
    expect(() => encode(xdr.string(3), 'four')).toThrow('Cannot encode "four" as string<3>: at most 3 bytes (it is 4)')
    expect(() => decode(xdr.string(3), Uint8Array.of(0, 0, 0, 4, 1, 2, 3, 4))).toThrow('a length of 4 is over its bound')
    expect(() => decode(xdr.varOpaque(), Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(XdrError)
    expect(() => decode(xdr.varArray(xdr.int), Uint8Array.of(0x7f, 0xff, 0xff, 0xff))).toThrow(/cannot fit in the 0 bytes left/)
    expect(() => decode(xdr.bool, Uint8Array.of(0, 0, 0, 2))).toThrow('neither 0 (FALSE) nor 1 (TRUE)')
    expect(() => decode(xdr.enumeration({ A: 0 }), Uint8Array.of(0, 0, 0, 1))).toThrow('1 is not one of its values')
    expect(() => decode(xdr.opaque(1), Uint8Array.of(7, 0, 0, 1))).toThrow('its padding is not zero')
    expect(() => decode(xdr.int, Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0))).toThrow('4 bytes are left after it')
    expect(() => encode(xdr.int, 2 ** 31)).toThrow(XdrError)
    expect(() => encode(xdr.unsigned, -1)).toThrow(XdrError)
    expect(() => encode(xdr.hyper, 1 as unknown as bigint)).toThrow(XdrError)
    expect(() => encode(xdr.opaque(2), Uint8Array.of(1))).toThrow('expected exactly 2 bytes')
    expect(() => encode(xdr.struct({ a: xdr.int }), {} as { a: number })).toThrow('the field a is missing')
    expect(() => encode(xdr.union(xdr.int, { 1: xdr.void }), { tag: 2, value: undefined })).toThrow('no arm has that discriminant')
    expect(() => xdr.string(-1)).toThrow(XdrError)
  })
})
