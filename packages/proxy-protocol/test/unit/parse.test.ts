import { encodeProxyHeaderV2, ProxyProtocolError, parseProxyHeader, TLV_TYPES } from '@socketserver/proxy-protocol'
import { describe, expect, test } from 'vitest'

const v1 = (text: string): Buffer => Buffer.from(text, 'latin1')
const client4 = { transport: 'tcp', host: '192.0.2.1', port: 56_324, family: 'IPv4' } as const
const listener4 = { transport: 'tcp', host: '198.51.100.2', port: 443, family: 'IPv4' } as const

function refusal(bytes: Uint8Array, accept: 'v1' | 'v2' | 'any' = 'any'): string {
  try {
    parseProxyHeader(bytes, accept)
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyProtocolError)
    expect((error as ProxyProtocolError).reason).toBe('malformed')
    return (error as ProxyProtocolError).message
  }
  throw new Error('Cannot find a refusal: the header was accepted')
}

describe('parseProxyHeader(), version 1', () => {
  test('reads the example of the specification, and says where the client data begins', () => {
    const parsed = parseProxyHeader(v1('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n'), 'v1')
    expect(parsed?.header).toMatchObject({ version: 1, command: 'proxy', transport: 'stream', source: client4, destination: listener4 })
    expect(parsed?.length).toBe(45)
  })

  test('TCP6 addresses come out in the form Node reports peers in', () => {
    const parsed = parseProxyHeader(v1('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:198.51.100.2 1 2\r\n'), 'v1')
    expect(parsed?.header.source).toEqual({ transport: 'tcp', host: '2001:db8::1', port: 1, family: 'IPv6' })
    expect(parsed?.header.destination).toEqual({ transport: 'tcp', host: '198.51.100.2', port: 2, family: 'IPv4' })
  })

  test("UNKNOWN is the proxy's own connection: no addresses, whatever follows it on the line", () => {
    expect(parseProxyHeader(v1('PROXY UNKNOWN\r\n'), 'v1')?.header).toMatchObject({ command: 'local', source: undefined })
    expect(parseProxyHeader(v1('PROXY UNKNOWN ffff:: ffff:: 1 2\r\nrest'), 'v1')?.length).toBe(33)
  })

  test('waits for the CR LF, up to 107 bytes, then refuses', () => {
    expect(parseProxyHeader(v1('PROXY TCP4 192.0.2.1'), 'v1')).toBeUndefined()
    expect(parseProxyHeader(v1('PRO'), 'any')).toBeUndefined()
    expect(parseProxyHeader(v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r'), 'v1')).toBeUndefined()
    expect(refusal(v1(`PROXY UNKNOWN ${'x'.repeat(100)}`))).toMatch(/no CR LF within 107 bytes/)
    // 107 bytes with the CR LF is the most; 108 is refused even with its CR LF.
    expect(parseProxyHeader(v1(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`), 'v1')?.length).toBe(107)
    expect(refusal(v1(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`))).toMatch(/no CR LF within 107 bytes/)
  })

  test.each([
    ['GET / HTTP/1.1\r\n', /does not start with a PROXY header/],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /names the protocol "TCP5"/],
    ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /7 fields/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /5 fields/],
    ['PROXY TCP4 1.2.3.4 ::1 1 2\r\n', /"::1": expected an IPv4 address/],
    ['PROXY TCP6 ::1 1.2.3.4 1 2\r\n', /"1.2.3.4": expected an IPv6 address/],
    ['PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', /"01.2.3.4"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /"65536"/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n', /"080": expected 0 to 65535 without leading zeros/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /line feed without a carriage return/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', /carriage return not followed by a line feed/],
    ['PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n', /outside printable ASCII \(0x09\)/],
  ])('refuses %j', (text, message) => {
    expect(refusal(v1(text))).toMatch(message)
  })

  test('a version 1 header is refused where only version 2 is accepted, and the other way round', () => {
    expect(refusal(v1('PROXY UNKNOWN\r\n'), 'v2')).toMatch(/expected the v2 signature/)
    expect(refusal(encodeProxyHeaderV2({ command: 'local' }), 'v1')).toMatch(/expected the v1 prefix/)
  })
})

describe('parseProxyHeader(), version 2', () => {
  test('LOCAL (a health check) has no addresses; its block is skipped', () => {
    const header = encodeProxyHeaderV2({ command: 'local' })
    expect(header.length).toBe(16)
    expect(parseProxyHeader(Buffer.concat([header, v1('data')]), 'v2')).toMatchObject({
      header: { version: 2, command: 'local', source: undefined },
      length: 16,
    })
  })

  test('Unix addresses, and the registered TLVs decoded', () => {
    const ssl = Buffer.concat([
      Buffer.from([0x07, 0, 0, 0, 0]),
      Buffer.from([TLV_TYPES.SSL_VERSION, 0, 7]),
      Buffer.from('TLSv1.3'),
      Buffer.from([TLV_TYPES.SSL_CN, 0, 6]),
      Buffer.from('client'),
    ])
    const header = encodeProxyHeaderV2({
      command: 'proxy',
      source: { transport: 'unix', path: '/run/client.sock' },
      destination: { transport: 'unix', path: '/run/haproxy.sock' },
      tlvs: [
        { type: TLV_TYPES.ALPN, value: Buffer.from('h2') },
        { type: TLV_TYPES.AUTHORITY, value: Buffer.from('example.org') },
        { type: TLV_TYPES.UNIQUE_ID, value: Buffer.from('id-1') },
        { type: TLV_TYPES.NETNS, value: Buffer.from('blue') },
        { type: TLV_TYPES.SSL, value: ssl },
      ],
      checksum: true,
    })
    const parsed = parseProxyHeader(header, 'v2')
    expect(parsed?.header).toMatchObject({
      source: { transport: 'unix', path: '/run/client.sock' },
      destination: { transport: 'unix', path: '/run/haproxy.sock' },
      alpn: 'h2',
      authority: 'example.org',
      netns: 'blue',
      ssl: {
        ssl: true,
        clientCertificateOnConnection: true,
        clientCertificateOnSession: true,
        verified: true,
        version: 'TLSv1.3',
        commonName: 'client',
      },
    })
    expect(Buffer.from(parsed?.header.uniqueId ?? []).toString()).toBe('id-1')
    expect(parsed?.header.tlvs.map((tlv) => tlv.type)).toEqual([1, 2, 5, 0x30, 0x20, 3])
  })

  test('waits for the whole length before parsing', () => {
    const header = encodeProxyHeaderV2({ command: 'proxy', source: client4, destination: listener4 })
    expect(header.length).toBe(28)
    expect(parseProxyHeader(header.subarray(0, 27), 'v2')).toBeUndefined()
    expect(parseProxyHeader(header, 'v2')?.header.source).toEqual(client4)
  })

  const good = (): Buffer => encodeProxyHeaderV2({ command: 'proxy', source: client4, destination: listener4, checksum: true })
  test.each([
    ['a version other than 2', (b: Buffer) => (b[12] = 0x11), /version 1: expected 2/],
    ['a command other than LOCAL or PROXY', (b: Buffer) => (b[12] = 0x22), /command 2/],
    ['an unknown family', (b: Buffer) => (b[13] = 0x41), /address family 4/],
    ['an unknown transport', (b: Buffer) => (b[13] = 0x13), /transport 3/],
    ['a CRC32C that does not match', (b: Buffer) => (b[17] = (b[17] as number) ^ 1), /CRC32C of 0x[0-9a-f]{8}, but its bytes sum to/],
  ])('refuses %s', (_, change, message) => {
    const bytes = good()
    change(bytes)
    expect(refusal(bytes, 'v2')).toMatch(message)
  })

  test('refuses a length too short for the addresses, TLVs that overrun, and a unique id over 128 bytes', () => {
    const short = good()
    short.writeUInt16BE(8, 14)
    expect(refusal(short.subarray(0, 24), 'v2')).toMatch(/too short for its addresses \(12\)/)
    const overrun = encodeProxyHeaderV2({
      command: 'proxy',
      source: client4,
      destination: listener4,
      tlvs: [{ type: 0xe0, value: Buffer.alloc(4) }],
    })
    overrun[29] = 9
    expect(refusal(overrun, 'v2')).toMatch(/runs past its end/)
    const stray = encodeProxyHeaderV2({
      command: 'proxy',
      source: client4,
      destination: listener4,
      tlvs: [{ type: 0xe0, value: Buffer.alloc(0) }],
    })
    stray.writeUInt16BE(stray.readUInt16BE(14) - 1, 14)
    expect(refusal(stray.subarray(0, stray.length - 1), 'v2')).toMatch(/2 byte\(s\) that are not a whole TLV/)
    const long = encodeProxyHeaderV2({
      command: 'proxy',
      source: client4,
      destination: listener4,
      tlvs: [{ type: TLV_TYPES.UNIQUE_ID, value: Buffer.alloc(129) }],
    })
    expect(refusal(long, 'v2')).toMatch(/unique id of 129 bytes: at most 128/)
  })
})
