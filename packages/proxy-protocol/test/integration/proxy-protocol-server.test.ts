import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { forked, formatAddress, type SocketAddress, sequential } from '@socketserver/core'
import {
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  type ProxiedStreamRequest,
  ProxyProtocolError,
  TLV_TYPES,
  withProxyProtocol,
} from '@socketserver/proxy-protocol'
import { connect, LoopbackClient, listen, openFileDescriptors, serveInBackground } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

const client4: SocketAddress = { transport: 'tcp', host: '203.0.113.7', port: 40_000, family: 'IPv4' }
const listener4: SocketAddress = { transport: 'tcp', host: '198.51.100.2', port: 443, family: 'IPv4' }
const client6: SocketAddress = { transport: 'tcp', host: '2001:db8::7', port: 41_000, family: 'IPv6' }
const listener6: SocketAddress = { transport: 'tcp', host: '2001:db8::1', port: 443, family: 'IPv6' }

/** Replies with who the handler thinks the client and the proxy are, then echoes what follows. */
async function whoAmI(request: ProxiedStreamRequest): Promise<void> {
  request.socket.write(
    `client ${formatAddress(request.clientAddress)} proxy ${formatAddress(request.proxyAddress)} ${request.proxy.command}\n`,
  )
  await request.sink(request.source)
}

/** A connection from a given loopback address. */
function connectFrom(address: SocketAddress, localAddress: string): Promise<LoopbackClient> {
  return new Promise((resolve, reject) => {
    const { host, port } = address as { host: string; port: number }
    const socket = net.connect({ host, port, localAddress })
    socket.once('connect', () => resolve(new LoopbackClient(socket)))
    socket.once('error', reject)
  })
}

describe('withProxyProtocol()', () => {
  test.each([
    ['v1, IPv4', () => encodeProxyHeaderV1({ command: 'proxy', source: client4, destination: listener4 }), '203.0.113.7:40000'],
    ['v1, IPv6', () => encodeProxyHeaderV1({ command: 'proxy', source: client6, destination: listener6 }), '[2001:db8::7]:41000'],
    [
      'v2, IPv4 with a CRC32C',
      () => encodeProxyHeaderV2({ command: 'proxy', source: client4, destination: listener4, checksum: true }),
      '203.0.113.7:40000',
    ],
    ['v2, IPv6', () => encodeProxyHeaderV2({ command: 'proxy', source: client6, destination: listener6 }), '[2001:db8::7]:41000'],
  ])(
    '%s: clientAddress is the client the proxy relays, proxyAddress the proxy, and the data after the header arrives intact',
    async (_, header, expected) => {
      const server = withProxyProtocol(await listen('tcp4'))
      const serving = serveInBackground(server, whoAmI)
      const client = await connect(server.address)
      const data = randomBytes(64 * 1024)
      // The header and the first data in one write: no byte after it may be lost.
      await client.send(Buffer.concat([header(), data.subarray(0, 1000)]))
      await client.send(data.subarray(1000))
      const line = await client.readLine()
      expect(line).toMatch(new RegExp(`^client ${expected.replace(/[[\]]/g, '\\$&')} proxy 127\\.0\\.0\\.1:\\d+ proxy\\n$`))
      expect(Buffer.compare(await client.readBytes(data.length), data)).toBe(0)
      client.end()
      await client.waitForEnd()
      expect(serving.errors).toEqual([])
      expect(server.stats).toMatchObject({ received: 1, accepted: 1, refused: { malformed: 0, untrusted: 0, timeout: 0, ended: 0 } })
    },
  )

  test('a header that arrives a byte at a time is read whole; a LOCAL one (a health check) keeps the peer as the client', async () => {
    const server = withProxyProtocol(await listen('tcp4'), { version: 'v2' })
    const serving = serveInBackground(server, whoAmI)
    const client = await connect(server.address)
    const header = Buffer.concat([encodeProxyHeaderV2({ command: 'local' }), Buffer.from('ping')])
    for (const byte of header) await client.send(Buffer.from([byte]))
    expect(await client.readLine()).toMatch(/^client 127\.0\.0\.1:(\d+) proxy 127\.0\.0\.1:\1 local\n$/)
    expect((await client.readBytes(4)).toString()).toBe('ping')
    client.destroy()
    await serving.stop()
  })

  test('TLVs reach the handler as request.proxy', async () => {
    const server = withProxyProtocol(await listen('unix'))
    let seen: ProxiedStreamRequest['proxy'] | undefined
    const serving = serveInBackground(server, (request: ProxiedStreamRequest) => {
      seen = request.proxy
      request.socket.end()
    })
    const client = await connect(server.address)
    await client.send(
      encodeProxyHeaderV2({
        command: 'proxy',
        source: client4,
        destination: listener4,
        tlvs: [
          { type: TLV_TYPES.AUTHORITY, value: Buffer.from('example.org') },
          { type: TLV_TYPES.UNIQUE_ID, value: Buffer.from('abc') },
        ],
        checksum: true,
      }),
    )
    await client.waitForEnd()
    expect(seen).toMatchObject({ version: 2, authority: 'example.org', source: client4, destination: listener4 })
    await serving.stop()
  })

  test('a peer that is not a trusted proxy is refused before a byte is read; a trusted one is served', async () => {
    const server = withProxyProtocol(await listen('tcp4'), { trustedProxies: ['127.0.0.2'] })
    const serving = serveInBackground(server, whoAmI)
    const stranger = await connectFrom(server.address, '127.0.0.1')
    await stranger.send(encodeProxyHeaderV1({ command: 'proxy', source: client4, destination: listener4 }))
    await stranger.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(ProxyProtocolError)
    expect(serving.errors[0]).toMatchObject({ reason: 'untrusted', clientAddress: { host: '127.0.0.1' } })
    const proxy = await connectFrom(server.address, '127.0.0.2')
    await proxy.send(encodeProxyHeaderV1({ command: 'proxy', source: client4, destination: listener4 }))
    expect(await proxy.readLine()).toMatch(/^client 203\.0\.113\.7:40000 proxy 127\.0\.0\.2:\d+ proxy\n$/)
    proxy.destroy()
    stranger.destroy()
    expect(server.stats.refused.untrusted).toBe(1)
  })

  test('a malformed header is refused at once, without waiting for the timeout', async () => {
    const server = withProxyProtocol(await listen('tcp4'), { proxyHeaderTimeoutMs: 2 ** 31 - 1 })
    const serving = serveInBackground(server, whoAmI)
    const client = await connect(server.address)
    await client.send('GET / HTTP/1.1\r\n\r\n')
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toMatchObject({ reason: 'malformed', code: 'SS_ERR_PROXY_PROTOCOL' })
    expect((serving.errors[0] as Error).message).toMatch(
      /^Cannot accept the connection from 127\.0\.0\.1:\d+: the connection does not start with a PROXY header/,
    )
    client.destroy()
  })

  test('a slow header is cut off at proxyHeaderTimeoutMs while a client behind it is served, even under sequential()', async () => {
    const server = withProxyProtocol(await listen('tcp4'), { proxyHeaderTimeoutMs: 200 })
    const serving = serveInBackground(server, whoAmI, { policy: sequential() })
    const slow = await connect(server.address)
    await slow.send('PROXY TCP4 ')
    const quick = await connect(server.address)
    await quick.send(encodeProxyHeaderV1({ command: 'proxy', source: client4, destination: listener4 }))
    expect(await quick.readLine()).toMatch(/^client 203\.0\.113\.7:40000/)
    quick.destroy()
    await slow.waitForEnd()
    await vi.waitFor(() => expect(serving.errors.some((error) => (error as ProxyProtocolError).reason === 'timeout')).toBe(true))
    slow.destroy()
  })

  test('a peer that leaves before its header is complete is counted, not reported', async () => {
    const server = withProxyProtocol(await listen('tcp4'))
    const serving = serveInBackground(server, whoAmI)
    const client = await connect(server.address)
    await client.send('PROXY TCP4 1.2')
    client.end()
    await vi.waitFor(() => expect(server.stats.refused.ended).toBe(1))
    expect(serving.errors).toEqual([])
    client.destroy()
  })

  test('1,000 connections that never finish their header hold no slot: a client is served meanwhile, and after the timeout every descriptor is back', async () => {
    const before = openFileDescriptors()
    const server = withProxyProtocol(await listen('tcp4'), { proxyHeaderTimeoutMs: 1_000 })
    const serving = serveInBackground(server, whoAmI, { policy: sequential() })
    const loris = await Promise.all(Array.from({ length: 1_000 }, () => connect(server.address)))
    await Promise.all(loris.map((client) => client.send('PROXY ')))
    await vi.waitFor(() => expect(server.stats.reading).toBe(1_000), { timeout: 10_000 })
    const legit = await connect(server.address)
    await legit.send(encodeProxyHeaderV1({ command: 'proxy', source: client4, destination: listener4 }))
    expect(await legit.readLine()).toMatch(/^client 203\.0\.113\.7:40000/)
    legit.destroy()
    await Promise.all(loris.map((client) => client.waitForEnd(15_000)))
    expect(server.stats.refused.timeout).toBe(1_000)
    for (const client of loris) client.destroy()
    await serving.stop()
    await vi.waitFor(() => expect(openFileDescriptors()).toBe(before))
  }, 30_000)

  test('closing the wrapper closes the server it wraps and the connections still reading their header', async () => {
    const inner = await listen('tcp4')
    const server = withProxyProtocol(inner)
    const serving = serveInBackground(server, whoAmI)
    const client = await connect(server.address)
    await client.send('PROXY ')
    await vi.waitFor(() => expect(server.stats.reading).toBe(1))
    await serving.stop()
    expect(inner.closed).toBe(true)
    expect(server.closed).toBe(true)
    await client.waitForEnd()
    expect(server.stats).toMatchObject({ reading: 0, droppedOnClose: 1 })
    client.destroy()
  })

  test("under forked(), the child gets the client, the header's facts and every byte that came after it", async () => {
    const server = withProxyProtocol(await listen('tcp4'))
    const policy = forked({ module: new URL('../fixtures/who-am-i.mjs', import.meta.url), maxChildren: 1 })
    const serving = serveInBackground(server, null, { policy })
    const client = await connect(server.address)
    const data = randomBytes(16 * 1024)
    await client.send(
      Buffer.concat([encodeProxyHeaderV2({ command: 'proxy', source: client4, destination: listener4 }), data.subarray(0, 500)]),
    )
    await client.send(data.subarray(500))
    const line = await client.readLine()
    const match = /^client 203\.0\.113\.7:40000 proxy 127\.0\.0\.1:\d+ proxy pid (\d+)\n$/.exec(line)
    expect(match).not.toBeNull()
    expect(Number(match?.[1])).not.toBe(process.pid)
    expect(Buffer.compare(await client.readBytes(data.length), data)).toBe(0)
    client.end()
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })
})
