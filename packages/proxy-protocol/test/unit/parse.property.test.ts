// Property tests over random and mutated headers: every header is either
// parsed to exactly what was encoded or refused with ProxyProtocolError,
// never a crash of another kind, a hang or a read past its end.
import type { SocketAddress } from '@socketserver/core'
import {
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  type ProxyHeaderFields,
  ProxyProtocolError,
  type ProxyTLV,
  parseProxyHeader,
  TLV_TYPES,
} from '@socketserver/proxy-protocol'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'

const ipv4 = fc.ipV4().map((host): SocketAddress => ({ transport: 'tcp', host, port: 0, family: 'IPv4' }))
// Plain IPv6 text as Node reports it (no IPv4-mapped forms: those are
// reported as the IPv4 address they carry).
const ipv6 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .filter((groups) => !(groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || groups[5] === 0)))
  .map((groups): SocketAddress => {
    const host = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]`).hostname.slice(1, -1)
    return { transport: 'tcp', host, port: 0, family: 'IPv6' }
  })
const port = fc.integer({ min: 0, max: 65_535 })
const withPort = (address: fc.Arbitrary<SocketAddress>) => fc.tuple(address, port).map(([a, p]) => ({ ...a, port: p }) as SocketAddress)
const unixPath = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz/._-0123456789'), minLength: 1, maxLength: 107 })
  .map((path): SocketAddress => ({ transport: 'unix', path }))

const inetPair = fc.oneof(fc.tuple(withPort(ipv4), withPort(ipv4)), fc.tuple(withPort(ipv6), withPort(ipv6)))
const anyPair = fc.oneof(inetPair, fc.tuple(unixPath, unixPath))

// TLVs whose meaning the parser does not check further (custom and NOOP)
// or checks without refusing any value (ALPN, AUTHORITY, NETNS as text).
const tlv: fc.Arbitrary<ProxyTLV> = fc.record({
  type: fc.constantFrom(TLV_TYPES.NOOP, TLV_TYPES.ALPN, TLV_TYPES.AUTHORITY, TLV_TYPES.NETNS, 0xe0, 0xe7, 0xef),
  value: fc.uint8Array({ maxLength: 40 }).map((bytes) => (bytes.length > 0 ? bytes : new Uint8Array(0))),
})
const trailing = fc.uint8Array({ maxLength: 64 })

function expectAddresses(parsed: ReturnType<typeof parseProxyHeader>, source: SocketAddress, destination: SocketAddress): void {
  expect(parsed?.header.command).toBe('proxy')
  expect(parsed?.header.source).toEqual(source)
  expect(parsed?.header.destination).toEqual(destination)
}

describe('parseProxyHeader() over encoded headers', () => {
  test('a version 1 header parses back to its addresses, with the bytes after it left alone', () => {
    fc.assert(
      fc.property(inetPair, trailing, fc.constantFrom('v1', 'any') as fc.Arbitrary<'v1' | 'any'>, ([source, destination], rest, accept) => {
        const header = encodeProxyHeaderV1({ command: 'proxy', source, destination })
        expect(header.length).toBeLessThanOrEqual(107)
        const parsed = parseProxyHeader(Buffer.concat([header, rest]), accept)
        expectAddresses(parsed, source, destination)
        expect(parsed?.length).toBe(header.length)
        expect(parsed?.header.version).toBe(1)
      }),
    )
  })

  test('a version 2 header parses back to its addresses, transport and TLVs, with or without a CRC32C', () => {
    fc.assert(
      fc.property(
        anyPair,
        fc.constantFrom('stream', 'datagram', 'unspecified') as fc.Arbitrary<ProxyHeaderFields['transport']>,
        fc.array(tlv, { maxLength: 6 }),
        fc.boolean(),
        trailing,
        ([source, destination], transport, tlvs, checksum, rest) => {
          const header = encodeProxyHeaderV2({ command: 'proxy', source, destination, transport, tlvs, checksum })
          const parsed = parseProxyHeader(Buffer.concat([header, rest]), 'any')
          expectAddresses(parsed, source, destination)
          expect(parsed?.length).toBe(header.length)
          expect(parsed?.header.transport).toBe(transport)
          const seen = parsed?.header.tlvs.map(({ type, value }) => ({ type, value: Buffer.from(value) })) ?? []
          const sent = tlvs.map(({ type, value }) => ({ type, value: Buffer.from(value) }))
          expect(seen.slice(0, sent.length)).toEqual(sent)
          expect(seen.length).toBe(sent.length + (checksum ? 1 : 0))
        },
      ),
    )
  })

  test('every prefix of a header needs more bytes: it never throws and never parses early', () => {
    fc.assert(
      fc.property(anyPair, fc.boolean(), fc.array(tlv, { maxLength: 3 }), ([source, destination], v2, tlvs) => {
        const header =
          v2 || 'path' in source
            ? encodeProxyHeaderV2({ command: 'proxy', source, destination, tlvs, checksum: true })
            : encodeProxyHeaderV1({ command: 'proxy', source, destination })
        for (let n = 0; n < header.length; n++) expect(parseProxyHeader(header.subarray(0, n), 'any')).toBeUndefined()
        expect(parseProxyHeader(header, 'any')?.length).toBe(header.length)
      }),
    )
  })

  test('a header with a CRC32C and any byte of its addresses or TLV values changed is refused', () => {
    // The checksum covers what the header says; its framing (the version,
    // command, family and length bytes, and each TLV's type and length)
    // decides where the checksum is, so a change there is the other
    // properties' business.
    fc.assert(
      fc.property(
        anyPair,
        fc.array(tlv, { maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        ([source, destination], tlvs, changes) => {
          const header = encodeProxyHeaderV2({ command: 'proxy', source, destination, tlvs, checksum: true })
          const addressLength = 'path' in source ? 216 : source.family === 'IPv4' ? 12 : 36
          const covered: number[] = []
          for (let i = 16; i < 16 + addressLength; i++) covered.push(i)
          for (let at = 16 + addressLength; at < header.length; ) {
            const length = header.readUInt16BE(at + 1)
            for (let i = at + 3; i < at + 3 + length; i++) covered.push(i)
            at += 3 + length
          }
          const mutated = Buffer.from(header)
          for (const [at, flip] of changes) {
            const index = covered[at % covered.length] as number
            mutated[index] = (mutated[index] as number) ^ flip
          }
          if (mutated.equals(header)) return
          expect(() => parseProxyHeader(mutated, 'v2')).toThrow(/CRC32C/)
        },
      ),
    )
  })

  test('random bytes are parsed, found incomplete or refused with ProxyProtocolError: nothing else, and never past their end', () => {
    const v1ish = fc
      .tuple(fc.constantFrom('PROXY ', 'PROXY TCP4 ', 'PROXY TCP6 ', 'PROXY UNKNOWN'), fc.string({ maxLength: 120 }))
      .map(([a, b]) => Buffer.from(a + b, 'latin1'))
    const v2ish = fc
      .uint8Array({ maxLength: 300 })
      .map((bytes) => Buffer.concat([encodeProxyHeaderV2({ command: 'local' }).subarray(0, 12), bytes]))
    fc.assert(
      fc.property(
        fc.oneof(v1ish, v2ish, fc.uint8Array({ maxLength: 200 })),
        fc.constantFrom('v1', 'v2', 'any') as fc.Arbitrary<'v1' | 'v2' | 'any'>,
        (bytes, accept) => {
          try {
            const parsed = parseProxyHeader(bytes, accept)
            if (parsed !== undefined) expect(parsed.length).toBeLessThanOrEqual(bytes.length)
          } catch (error) {
            expect(error).toBeInstanceOf(ProxyProtocolError)
            expect((error as ProxyProtocolError).reason).toBe('malformed')
          }
        },
      ),
      { numRuns: 2_000 },
    )
  })
})
