import { formatAddress, InvalidAddressError, parseHostPort } from '@socketserver/core'
import fc from 'fast-check'
import { expect, test } from 'vitest'

test('parseHostPort() parses any string or rejects it with InvalidAddressError, nothing else (fast-check)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\[?[0-9a-f:.]{0,20}\]?:\d{0,6}$/)), (text) => {
      try {
        const { host, port } = parseHostPort(text)
        expect(Number.isInteger(port) && port >= 0 && port <= 65535).toBe(true)
        expect(host.length).toBeGreaterThan(0)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidAddressError)
      }
    }),
  )
})

test('formatAddress() and parseHostPort() round-trip any IPv4 or IPv6 address and port (fast-check)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (host, port) => {
      const family = host.includes(':') ? 'IPv6' : 'IPv4'
      const text = formatAddress({ transport: 'tcp', host, port, family })
      expect(parseHostPort(text)).toEqual({ host, port })
    }),
  )
})
