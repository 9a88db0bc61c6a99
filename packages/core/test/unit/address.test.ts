import { formatAddress, InvalidAddressError, inetAddress, ipv6Bytes, ipv6Text, parseHostPort } from '@socketserver/core'
import { describe, expect, test } from 'vitest'

describe('parseHostPort()', () => {
  test.each([
    ['127.0.0.1:7', { host: '127.0.0.1', port: 7 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::1]:8007', { host: '::1', port: 8007 }],
    ['[::]:0', { host: '::', port: 0 }],
    ['0.0.0.0:65535', { host: '0.0.0.0', port: 65535 }],
  ])('parses %s', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected)
  })

  test.each(['', 'localhost', ':80', '::1:80', '[::1]80', '[::1', '[nothost]:1', 'host:65536', 'host:-1', 'host:8o', 'a b:1', 'host:'])(
    'rejects %j with InvalidAddressError',
    (text) => {
      expect(() => parseHostPort(text)).toThrow(InvalidAddressError)
    },
  )

  test('rejects any string either with InvalidAddressError or parses it', () => {
    const alphabet = ['1', ':', '[', ']', 'a', '.', ' ', '0', '9', 'f', '\0']
    for (let i = 0; i < 2_000; i++) {
      let text = ''
      const length = (i * 7) % 12
      for (let j = 0; j < length; j++) text += alphabet[(i * 31 + j * 17 + ((i * j) % 5)) % alphabet.length]
      try {
        const { port } = parseHostPort(text)
        expect(port).toBeGreaterThanOrEqual(0)
        expect(port).toBeLessThanOrEqual(65535)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidAddressError)
      }
    }
  })
})

describe('formatAddress()', () => {
  test('brackets IPv6 hosts and names abstract and unnamed Unix addresses', () => {
    expect(formatAddress({ transport: 'tcp', host: '127.0.0.1', port: 5, family: 'IPv4' })).toBe('127.0.0.1:5')
    expect(formatAddress({ transport: 'tcp', host: '::1', port: 5, family: 'IPv6' })).toBe('[::1]:5')
    expect(formatAddress({ transport: 'unix', path: '/tmp/s.sock' })).toBe('/tmp/s.sock')
    expect(formatAddress({ transport: 'unix', path: '\0name' })).toBe('@name')
    expect(formatAddress({ transport: 'unix', path: null })).toBe('(unnamed)')
  })
})

describe('inetAddress()', () => {
  test('reports IPv4-mapped IPv6 peers as IPv4', () => {
    expect(inetAddress('tcp', '::ffff:127.0.0.1', 9)).toEqual({ transport: 'tcp', host: '127.0.0.1', port: 9, family: 'IPv4' })
    expect(inetAddress('tcp', '::1', 9).family).toBe('IPv6')
  })
})

test('formatAddress() words a TCP client whose address is unknown (it reset before the accept) instead of printing :0', () => {
  for (const family of ['IPv4', 'IPv6'] as const) {
    expect(formatAddress({ transport: 'tcp', host: '', port: 0, family })).toBe(
      'an unknown client (it reset the connection before its address was read)',
    )
  }
})

describe('ipv6Text() and ipv6Bytes()', () => {
  test.each([
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['1:0:0:2::3', '00010000000000020000000000000003'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
  ])('%s is %s, both ways, as inet_ntop writes it', (text, hex) => {
    expect(ipv6Bytes(text)?.toString('hex')).toBe(hex)
    expect(ipv6Text(Buffer.from(hex, 'hex'))).toBe(text)
  })

  test('the first of two equal zero runs is the one shortened; a single zero group is not', () => {
    expect(ipv6Text(Buffer.from('00010000000000020000000000030004', 'hex'))).toBe('1::2:0:0:3:4')
    expect(ipv6Text(Buffer.from('00010000000200030004000500060007', 'hex'))).toBe('1:0:2:3:4:5:6:7')
  })

  test('text that is not an IPv6 address has no bytes', () => {
    for (const text of ['1.2.3.4', 'fe80::1%eth0', '1::2::3', 'nope', '1:2:3:4:5:6:7']) expect(ipv6Bytes(text)).toBeUndefined()
  })
})
