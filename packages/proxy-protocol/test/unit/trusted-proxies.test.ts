import { InvalidOptionError } from '@socketserver/core'
import { DEFAULT_TRUSTED_PROXIES, encodeProxyHeaderV1, encodeProxyHeaderV2, TrustedProxies } from '@socketserver/proxy-protocol'
import { describe, expect, test } from 'vitest'

const tcp = (host: string) => ({ transport: 'tcp', host, port: 1, family: host.includes(':') ? 'IPv6' : 'IPv4' }) as const

describe('TrustedProxies', () => {
  test('the default trusts loopback peers only, and every Unix-socket peer', () => {
    const trusted = new TrustedProxies(DEFAULT_TRUSTED_PROXIES)
    expect(trusted.allows(tcp('127.0.0.1'))).toBe(true)
    expect(trusted.allows(tcp('127.9.9.9'))).toBe(true)
    expect(trusted.allows(tcp('::1'))).toBe(true)
    expect(trusted.allows(tcp('10.0.0.1'))).toBe(false)
    expect(trusted.allows(tcp('2001:db8::1'))).toBe(false)
    expect(trusted.allows({ transport: 'unix', path: '' })).toBe(true)
    // A peer whose address was never known (it reset at once) is nobody's proxy.
    expect(trusted.allows(tcp(''))).toBe(false)
  })

  test('addresses and CIDR networks of both families; an IPv4 network matches IPv4-mapped peers', () => {
    const trusted = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'])
    expect(trusted.allows(tcp('10.200.3.4'))).toBe(true)
    expect(trusted.allows(tcp('::ffff:10.1.2.3'))).toBe(true)
    expect(trusted.allows(tcp('192.0.2.7'))).toBe(true)
    expect(trusted.allows(tcp('192.0.2.8'))).toBe(false)
    expect(trusted.allows(tcp('2001:db8:ffff::1'))).toBe(true)
    expect(trusted.allows(tcp('127.0.0.1'))).toBe(false)
  })

  test('prefixes that do not end on a byte, IPv4-mapped networks, and a network of everyone', () => {
    const trusted = new TrustedProxies(['2001:db8:8000::/33', '::ffff:10.0.0.0/104', '172.16.0.0/12'])
    expect(trusted.allows(tcp('2001:db8:8000::1'))).toBe(true)
    expect(trusted.allows(tcp('2001:db8:7fff::1'))).toBe(false)
    expect(trusted.allows(tcp('10.9.8.7'))).toBe(true)
    expect(trusted.allows(tcp('11.0.0.1'))).toBe(false)
    expect(trusted.allows(tcp('172.31.255.255'))).toBe(true)
    expect(trusted.allows(tcp('172.32.0.0'))).toBe(false)
    const everyone = new TrustedProxies(['0.0.0.0/0', '::/0'])
    expect(everyone.allows(tcp('203.0.113.1'))).toBe(true)
    expect(everyone.allows(tcp('2001:db8::1'))).toBe(true)
  })

  test.each(['10.0.0.0/33', '::/129', '10.0.0/8', 'example.org', '10.0.0.1/8/8', '10.0.0.0/', 'fe80::1%eth0'])(
    'refuses %j naming it',
    (entry) => {
      expect(() => new TrustedProxies([entry])).toThrow(InvalidOptionError)
      expect(() => new TrustedProxies([entry])).toThrow(JSON.stringify(entry))
    },
  )
})

describe('the encoders', () => {
  const v4 = tcp('192.0.2.1')
  const v6 = tcp('2001:db8::1')
  test('refuse what the chosen version cannot carry', () => {
    expect(() => encodeProxyHeaderV1({ command: 'proxy', source: v4 })).toThrow(/without its source and destination/)
    expect(() => encodeProxyHeaderV1({ command: 'proxy', source: v4, destination: v6 })).toThrow(
      /the source is IPv4 but the destination IPv6/,
    )
    expect(() =>
      encodeProxyHeaderV1({ command: 'proxy', source: { transport: 'unix', path: '/a' }, destination: { transport: 'unix', path: '/b' } }),
    ).toThrow(/only version 2 carries them/)
    expect(() =>
      encodeProxyHeaderV2({
        command: 'proxy',
        source: { transport: 'unix', path: 'x'.repeat(108) },
        destination: { transport: 'unix', path: '/b' },
      }),
    ).toThrow(/108 bytes: at most 107/)
    expect(() =>
      encodeProxyHeaderV2({ command: 'proxy', source: v4, destination: v4, tlvs: [{ type: 0xe0, value: new Uint8Array(65_535) }] }),
    ).toThrow(/at most 65535/)
  })

  test("write the specification's examples byte for byte", () => {
    expect(encodeProxyHeaderV1({ command: 'local' }).toString('latin1')).toBe('PROXY UNKNOWN\r\n')
    expect(
      encodeProxyHeaderV1({
        command: 'proxy',
        source: { ...v4, port: 56_324 },
        destination: { ...tcp('198.51.100.2'), port: 443 },
      }).toString('latin1'),
    ).toBe('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n')
    const header = encodeProxyHeaderV2({
      command: 'proxy',
      source: { ...v4, port: 56_324 },
      destination: { ...tcp('198.51.100.2'), port: 443 },
    })
    expect(header.toString('hex')).toBe('0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + 'c0000201' + 'c6336402' + 'dc04' + '01bb')
  })
})
