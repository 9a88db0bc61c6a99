import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { forked, formatAddress, type SocketAddress, sequential, WorkerCrashedError } from '@socketserver/core'
import { encodeProxyHeaderV1, type ProxiedStreamRequest, withProxyProtocol } from '@socketserver/proxy-protocol'
import {
  connect,
  hasHAProxy,
  LoopbackClient,
  listen,
  openFileDescriptors,
  registerCleanup,
  serveInBackground,
  startHAProxy,
} from '@socketserver/testing'
import { TLSHandshakeError, type TLSStreamRequest, withTLS } from '@socketserver/tls'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { type Certificates, makeCertificates } from './certificates.js'

let certificates: Certificates
beforeAll(() => {
  certificates = makeCertificates()
})
afterAll(() => certificates.remove())

/** Says what was agreed, then echoes. */
async function describeTLS(request: TLSStreamRequest): Promise<void> {
  const { protocol, alpnProtocol, servername, authorized, peerCertificate } = request.tls
  request.socket.write(
    `${protocol} ${alpnProtocol} ${servername} ${authorized} ${peerCertificate?.subject.CN ?? '-'} ${formatAddress(request.clientAddress)}\n`,
  )
  await request.sink(request.source)
}

/** A TLS client of `address`, resolved once its handshake is done. */
function tlsConnect(
  address: SocketAddress,
  options: tls.ConnectionOptions = {},
): Promise<{ client: LoopbackClient; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const target =
      'path' in address
        ? { path: address.path ?? '' }
        : { host: (address as { host: string }).host, port: (address as { port: number }).port }
    const socket = tls.connect({ ...target, servername: 'localhost', ca: certificates.ca, ...options })
    registerCleanup(() => socket.destroy())
    socket.once('secureConnect', () => resolve({ client: new LoopbackClient(socket as unknown as net.Socket), socket }))
    socket.once('error', reject)
  })
}

/** A TLS client that first sends a PROXY v1 header (client 203.0.113.5:443) on its connection to `address`. */
async function tlsAfterProxyHeader(address: SocketAddress): Promise<LoopbackClient> {
  const raw =
    'path' in address
      ? net.connect({ path: address.path ?? '' })
      : net.connect((address as { port: number }).port, (address as { host: string }).host)
  registerCleanup(() => raw.destroy())
  await new Promise((resolve) => raw.once('connect', resolve))
  raw.write(
    encodeProxyHeaderV1({
      command: 'proxy',
      source: { transport: 'tcp', host: '203.0.113.5', port: 443, family: 'IPv4' },
      destination: { transport: 'tcp', host: '198.51.100.1', port: 443, family: 'IPv4' },
    }),
  )
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: raw, servername: 'localhost', ca: certificates.ca })
    socket.once('secureConnect', () => resolve(new LoopbackClient(socket as unknown as net.Socket)))
    socket.once('error', reject)
  })
}

describe('withTLS()', () => {
  test.each(['TLSv1.3', 'TLSv1.2'] as const)(
    '%s: the handler reads and writes the TLS socket, and request.tls says what was agreed',
    async (version) => {
      const server = withTLS(await listen('tcp4'), { ...certificates.server })
      const serving = serveInBackground(server, describeTLS)
      const { client } = await tlsConnect(server.address, { minVersion: version, maxVersion: version })
      await client.send('ping\n')
      expect(await client.readLine()).toMatch(new RegExp(`^${version} false localhost false - 127\\.0\\.0\\.1:\\d+\\n$`))
      expect(await client.readLine()).toBe('ping\n')
      client.end()
      await client.waitForEnd()
      await serving.stop()
      expect(serving.errors).toEqual([])
      expect(server.stats).toMatchObject({ received: 1, established: 1, refused: { timeout: 0, unauthorized: 0, failed: 0, ended: 0 } })
    },
  )

  test('openssl s_client gets its echo', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server })
    const serving = serveInBackground(server, (request: TLSStreamRequest) => request.sink(request.source))
    const { port } = server.address as { port: number }
    const child = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-servername',
        'localhost',
        '-CAfile',
        certificates.file('ca.pem'),
        '-quiet',
        '-verify_return_error',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    )
    registerCleanup(() => child.kill())
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stdin.write('hello from openssl\n')
    await vi.waitFor(() => expect(output).toContain('hello from openssl\n'), { timeout: 10_000 })
    child.stdin.end()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test.each([
    ['TLS 1.3', 'NORMAL'],
    ['TLS 1.2', 'NORMAL:-VERS-ALL:+VERS-TLS1.2'],
  ])('gnutls-cli (%s) gets its echo, with a client certificate the ca signed', async (_, priority) => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server, ca: certificates.ca, clientCertificate: 'require' })
    const serving = serveInBackground(server, describeTLS)
    const { port } = server.address as { port: number }
    const child = spawn(
      'gnutls-cli',
      [
        '--x509cafile',
        certificates.file('ca.pem'),
        '--x509certfile',
        certificates.file('client.pem'),
        '--x509keyfile',
        certificates.file('client-key.pem'),
        '--priority',
        priority,
        '--port',
        String(port),
        'localhost',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    )
    registerCleanup(() => child.kill())
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    await vi.waitFor(() => expect(output).toMatch(/TLSv1\.[23] false localhost true client /), { timeout: 10_000 })
    child.stdin.write('hello from gnutls\n')
    await vi.waitFor(() => expect(output).toContain('hello from gnutls\n'), { timeout: 10_000 })
    expect(output).toContain(priority === 'NORMAL' ? 'TLSv1.3' : 'TLSv1.2')
    child.stdin.end()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('1,000 connections that never finish a handshake hold no slot: a client is served meanwhile, and after the timeout every descriptor is back', async () => {
    const before = openFileDescriptors()
    const server = withTLS(await listen('tcp4'), { ...certificates.server, handshakeTimeoutMs: 1_000 })
    const serving = serveInBackground(server, describeTLS, { policy: sequential() })
    const loris = await Promise.all(Array.from({ length: 1_000 }, () => connect(server.address)))
    // The first bytes of a ClientHello record, and no more.
    await Promise.all(loris.map((client) => client.send(Buffer.from([0x16, 0x03, 0x01]))))
    await vi.waitFor(() => expect(server.stats.handshaking).toBe(1_000), { timeout: 10_000 })
    const { client } = await tlsConnect(server.address)
    expect(await client.readLine()).toMatch(/^TLSv1\.3 /)
    client.destroy()
    await Promise.all(loris.map((slow) => slow.waitForEnd(15_000)))
    expect(server.stats.refused.timeout).toBe(1_000)
    for (const slow of loris) slow.destroy()
    await serving.stop()
    // At most as many as before: descriptors of earlier tests may close meanwhile.
    await vi.waitFor(() => expect(openFileDescriptors()).toBeLessThanOrEqual(before as number))
  }, 30_000)

  test.each(['TLSv1.3', 'TLSv1.2'] as const)(
    '%s: a resumed session says so in request.tls, and still names the client',
    async (version) => {
      const server = withTLS(await listen('tcp4'), { ...certificates.server, ca: certificates.ca, clientCertificate: 'request' })
      const serving = serveInBackground(server, (request: TLSStreamRequest) =>
        request.socket.end(`${request.tls.resumed} ${request.tls.peerCertificate?.subject.CN ?? '-'}\n`),
      )
      const options = { ...certificates.client, minVersion: version, maxVersion: version }
      const first = await tlsConnect(server.address, options)
      const session = await new Promise<Buffer>((resolve) => {
        const existing = first.socket.getSession()
        if (version === 'TLSv1.2' && existing !== undefined) resolve(existing)
        else first.socket.once('session', resolve)
      })
      expect(await first.client.readLine()).toBe('false client\n')
      const second = await tlsConnect(server.address, { ...options, session })
      expect(second.socket.isSessionReused()).toBe(true)
      expect(await second.client.readLine()).toBe('true client\n')
      first.client.destroy()
      second.client.destroy()
      await serving.stop()
    },
  )

  test('ALPN and SNI: the protocol agreed, and the certificate of the name asked for', async () => {
    const server = withTLS(await listen('tcp4'), {
      ...certificates.server,
      sni: { 'other.test': certificates.other },
      alpnProtocols: ['h2', 'http/1.1'],
    })
    const serving = serveInBackground(server, describeTLS)
    const { client, socket } = await tlsConnect(server.address, { servername: 'other.test', ALPNProtocols: ['http/1.1'] })
    expect(socket.getPeerCertificate().subject.CN).toBe('other.test')
    expect(await client.readLine()).toMatch(/^TLSv1\.3 http\/1\.1 other\.test false - /)
    const plain = await tlsConnect(server.address)
    expect(plain.socket.getPeerCertificate().subject.CN).toBe('localhost')
    client.destroy()
    plain.client.destroy()
    await serving.stop()
  })

  test('strictSNI: a name no certificate is for is refused; the names of sni and of the default certificate, and no name at all, are served', async () => {
    const server = withTLS(await listen('tcp4'), {
      ...certificates.server,
      sni: { 'other.test': certificates.other },
      strictSNI: true,
      reportHandshakeErrors: true,
    })
    const serving = serveInBackground(server, describeTLS)
    // undefined: connecting to an IP address, Node sends no server name.
    // (The client then checks the certificate against the address: skip that here.)
    for (const servername of ['localhost', 'other.test', undefined]) {
      const { client } = await tlsConnect(server.address, { servername, checkServerIdentity: () => undefined })
      expect(await client.readLine()).toMatch(/^TLSv1\.3 /)
      client.destroy()
    }
    await expect(tlsConnect(server.address, { servername: 'unknown.test' })).rejects.toThrow()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toMatchObject({ reason: 'failed' })
    expect((serving.errors[0] as Error).message).toMatch(/"unknown.test", which no certificate here is for/)
    await serving.stop()
  })

  test("clientCertificate 'require' holds for the SNI certificates too: the ca's client is served on an SNI name, another CA's is not", async () => {
    const server = withTLS(await listen('tcp4'), {
      ...certificates.server,
      sni: { 'other.test': certificates.other },
      ca: certificates.ca,
      clientCertificate: 'require',
      reportHandshakeErrors: true,
    })
    const serving = serveInBackground(server, describeTLS)
    const good = await tlsConnect(server.address, { ...certificates.client, servername: 'other.test' })
    expect(await good.client.readLine()).toMatch(/^TLSv1\.3 false other\.test true client /)
    good.client.destroy()
    const stranger = await tlsConnect(server.address, { ...certificates.stranger, servername: 'other.test' }).catch(() => undefined)
    await stranger?.client.waitForEnd()
    stranger?.client.destroy()
    await vi.waitFor(() => expect(server.stats.refused.unauthorized).toBe(1))
    await serving.stop()
  })

  test('a client that ends its side during the handshake is refused at once, not at the timeout', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server, handshakeTimeoutMs: 2 ** 31 - 1 })
    const serving = serveInBackground(server, describeTLS)
    const client = await connect(server.address)
    await client.send(Buffer.from([0x16, 0x03, 0x01]))
    client.end()
    await vi.waitFor(() => expect(server.stats.refused.ended + server.stats.refused.failed).toBe(1))
    expect(server.stats.handshaking).toBe(0)
    client.destroy()
    await serving.stop()
  })

  test("a reload without a ca keeps the one in force (the last reload's), not the first one", async () => {
    const server = withTLS(await listen('tcp4'), {
      ...certificates.server,
      ca: certificates.ca,
      clientCertificate: 'require',
      reportHandshakeErrors: true,
    })
    const serving = serveInBackground(server, describeTLS)
    server.reloadTLS({ ...certificates.server, ca: readFileSync(certificates.file('ca2.pem')) })
    server.reloadTLS({ ...certificates.server })
    const stranger = await tlsConnect(server.address, { ...certificates.stranger })
    expect(await stranger.client.readLine()).toMatch(/ true stranger /)
    stranger.client.destroy()
    const former = await tlsConnect(server.address, { ...certificates.client }).catch(() => undefined)
    await former?.client.waitForEnd()
    former?.client.destroy()
    await vi.waitFor(() => expect(server.stats.refused.unauthorized).toBe(1))
    await serving.stop()
  })

  test("clientCertificate 'require': a certificate the ca signed is served, and names the client; none, another CA's, or an expired one never reaches the handler", async () => {
    const server = withTLS(await listen('tcp4'), {
      ...certificates.server,
      ca: certificates.ca,
      clientCertificate: 'require',
      reportHandshakeErrors: true,
    })
    let handled = 0
    const serving = serveInBackground(server, async (request: TLSStreamRequest) => {
      handled++
      await describeTLS(request)
    })
    const good = await tlsConnect(server.address, { ...certificates.client })
    expect(await good.client.readLine()).toMatch(/^TLSv1\.3 false localhost true client /)
    good.client.destroy()
    for (const options of [{}, { ...certificates.stranger }, { ...certificates.expired }]) {
      const attempt = await tlsConnect(server.address, options).catch(() => undefined)
      await attempt?.client.waitForEnd()
      attempt?.client.destroy()
    }
    await vi.waitFor(() => expect(server.stats.refused.unauthorized).toBe(3))
    expect(handled).toBe(1)
    expect(serving.errors).toHaveLength(3)
    expect((serving.errors[2] as Error).message).toMatch(/CERT_HAS_EXPIRED/)
    for (const error of serving.errors) expect(error).toMatchObject({ reason: 'unauthorized', code: 'SS_ERR_TLS_HANDSHAKE' })
    await serving.stop()
  })

  test('a handshake that never comes is cut off at handshakeTimeoutMs while a client behind it is served, even under sequential()', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server, handshakeTimeoutMs: 300, reportHandshakeErrors: true })
    const serving = serveInBackground(server, describeTLS, { policy: sequential() })
    const silent = await connect(server.address)
    const { client } = await tlsConnect(server.address)
    expect(await client.readLine()).toMatch(/^TLSv1\.3 /)
    client.destroy()
    await silent.waitForEnd()
    await vi.waitFor(() => expect(server.stats.refused.timeout).toBe(1))
    expect(serving.errors[0]).toBeInstanceOf(TLSHandshakeError)
    expect(serving.errors[0]).toMatchObject({ reason: 'timeout' })
    silent.destroy()
    await serving.stop()
  })

  test('bytes that are not TLS are refused (failed); by default that is counted, not passed to handleError', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server })
    const serving = serveInBackground(server, describeTLS)
    const written: string[] = []
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk))
      return true
    })
    try {
      for (let i = 0; i < 3; i++) {
        const client = await connect(server.address)
        await client.send('GET / HTTP/1.1\r\n\r\n')
        await client.waitForEnd()
        client.destroy()
      }
      await vi.waitFor(() => expect(server.stats.refused.failed).toBe(3))
    } finally {
      write.mockRestore()
    }
    expect(serving.errors).toEqual([])
    // One summary line for the three, not three lines.
    expect(written.filter((line) => line.includes('TLS handshake'))).toHaveLength(1)
    await serving.stop()
  })

  test.skipIf(!hasHAProxy())(
    'behind a real HAProxy in TCP mode with send-proxy-v2: TLS passes through it, and the handler sees the client itself',
    async () => {
      const server = withTLS(withProxyProtocol(await listen('tcp4')), { ...certificates.server })
      const serving = serveInBackground(server, async (request: TLSStreamRequest & Partial<ProxiedStreamRequest>) => {
        request.socket.write(`${formatAddress(request.clientAddress)} ${request.proxy?.version} ${request.tls.protocol}\n`)
        await request.sink(request.source)
      })
      const port = await startHAProxy(server.address, { serverOptions: 'send-proxy-v2' })
      const { client, socket } = await tlsConnect({ transport: 'tcp', host: '127.0.0.1', port, family: 'IPv4' })
      const local = socket.address() as { address: string; port: number }
      expect(await client.readLine()).toBe(`${local.address}:${local.port} 2 TLSv1.3\n`)
      await client.send('through haproxy\n')
      expect(await client.readLine()).toBe('through haproxy\n')
      client.destroy()
      await serving.stop()
      expect(serving.errors).toEqual([])
    },
  )

  test('behind a PROXY header, over a Unix socket: the relayed client, the header and the TLS facts together', async () => {
    const server = withTLS(withProxyProtocol(await listen('unix')), { ...certificates.server })
    const serving = serveInBackground(server, async (request: TLSStreamRequest & Partial<ProxiedStreamRequest>) => {
      request.socket.end(`${formatAddress(request.clientAddress)} ${request.proxy?.version} ${request.tls.protocol}\n`)
    })
    const client = await tlsAfterProxyHeader(server.address)
    expect(await client.readLine()).toBe('203.0.113.5:443 1 TLSv1.3\n')
    client.destroy()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('forked(): the session stays in this process and the bytes are relayed; the child sees request.tls and the client, a MiB goes both ways intact', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server, ca: certificates.ca, clientCertificate: 'require' })
    const policy = forked({ module: new URL('../fixtures/describe-tls.mjs', import.meta.url), maxChildren: 2 })
    const serving = serveInBackground(server, null, { policy })
    const { client, socket } = await tlsConnect(server.address, { ...certificates.client })
    const [pid, protocol, authorized, commonName, from] = (await client.readLine()).trim().split(' ')
    expect(policy.pids).toContain(Number(pid))
    expect(Number(pid)).not.toBe(process.pid)
    expect([protocol, authorized, commonName, from]).toEqual(['TLSv1.3', 'true', 'client', 'direct'])
    // A MiB each way, then the client's end: every byte back, then the child's end.
    const sent = Buffer.alloc(1 << 20, 0).map((_, index) => (index * 31) % 251)
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    const ended = new Promise((resolve) => socket.once('end', resolve))
    socket.end(sent)
    await ended
    expect(Buffer.concat(received).equals(sent)).toBe(true)
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('forked() behind PROXY then TLS: the child sees the original client and the TLS facts', async () => {
    const server = withTLS(withProxyProtocol(await listen('tcp4'), { version: 'v1' }), { ...certificates.server })
    const serving = serveInBackground(server, null, {
      policy: forked({ module: new URL('../fixtures/describe-tls.mjs', import.meta.url), maxChildren: 1 }),
    })
    const client = await tlsAfterProxyHeader(server.address)
    expect((await client.readLine()).split(' ').slice(1)).toEqual(['TLSv1.3', 'false', '-', '203.0.113.5:443\n'])
    await client.send('relayed\n')
    expect(await client.readLine()).toBe('relayed\n')
    client.destroy()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('forked(): a child that dies mid-request fails that request only (WorkerCrashedError), its client is closed after what it was sent, and the next is served', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server })
    const serving = serveInBackground(server, null, {
      policy: forked({ module: new URL('../fixtures/crash.mjs', import.meta.url), maxChildren: 1 }),
    })
    for (let round = 0; round < 2; round++) {
      const { client } = await tlsConnect(server.address)
      expect(await client.readLine()).toBe('about to crash\n')
      await client.waitForEnd()
      client.destroy()
      await vi.waitFor(() => expect(serving.errors).toHaveLength(round + 1))
      expect(serving.errors[round]).toBeInstanceOf(WorkerCrashedError)
    }
    await serving.stop()
  })

  test('reloadTLS(): new handshakes get the new certificate, an open connection keeps going, a bad set is refused and the last good one stays', async () => {
    const server = withTLS(await listen('tcp4'), { ...certificates.server })
    const serving = serveInBackground(server, (request: TLSStreamRequest) => request.sink(request.source))
    const before = await tlsConnect(server.address)
    expect(before.socket.getPeerCertificate().subject.CN).toBe('localhost')
    server.reloadTLS({ ...certificates.other })
    const after = await tlsConnect(server.address, { servername: 'other.test' })
    expect(after.socket.getPeerCertificate().subject.CN).toBe('other.test')
    await before.client.send('still here\n')
    expect(await before.client.readLine()).toBe('still here\n')
    expect(() => server.reloadTLS({ key: certificates.client.key, cert: certificates.server.cert })).toThrow(
      /Cannot use the key and certificate/,
    )
    const again = await tlsConnect(server.address, { servername: 'other.test' })
    expect(again.socket.getPeerCertificate().subject.CN).toBe('other.test')
    for (const { client } of [before, after, again]) client.destroy()
    await serving.stop()
  })

  test("bad options are refused naming the option: no certificate, a key that is not the certificate's, require without a ca", () => {
    expect(() => withTLS(undefined as never, {} as never)).toThrow(/without a certificate and its key/)
    expect(() => withTLS(undefined as never, { key: certificates.client.key, cert: certificates.server.cert })).toThrow(
      /Cannot use the key and certificate/,
    )
    expect(() => withTLS(undefined as never, { ...certificates.server, clientCertificate: 'require' })).toThrow(/without a ca/)
  })
})
