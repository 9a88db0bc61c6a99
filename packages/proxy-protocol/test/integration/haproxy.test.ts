// A real HAProxy in front of our servers, in TCP mode with send-proxy,
// send-proxy-v2 and send-proxy-v2-ssl (startHAProxy() of the testing kit:
// no fixed port).
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import tls from 'node:tls'
import { formatAddress } from '@socketserver/core'
import { type ProxiedStreamRequest, withProxyProtocol } from '@socketserver/proxy-protocol'
import { connect, hasHAProxy, LoopbackClient, listen, selfSignedCertificate, serveInBackground, startHAProxy } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const haproxy = hasHAProxy()

/** Connects to HAProxy and waits until it accepted (HAProxy reads the socket only once it runs). */
async function throughHAProxy(port: number): Promise<LoopbackClient> {
  return connect({ transport: 'tcp', host: '127.0.0.1', port, family: 'IPv4' })
}

async function reportsTheClient(request: ProxiedStreamRequest): Promise<void> {
  request.socket.write(`${formatAddress(request.clientAddress)} via ${request.proxy.version}\n`)
  await request.sink(request.source)
}

describe.skipIf(!haproxy)('behind a real HAProxy', () => {
  test.each([
    ['send-proxy', 'tcp4', 1],
    ['send-proxy-v2', 'tcp4', 2],
    ['send-proxy-v2', 'unix', 2],
  ] as const)(
    "%s to a %s listener: the handler sees the client's own address and port, and the echo comes back",
    async (option, transport, version) => {
      const server = withProxyProtocol(await listen(transport))
      const serving = serveInBackground(server, reportsTheClient)
      const port = await startHAProxy(server.address, { serverOptions: option })
      const client = await throughHAProxy(port)
      const local = client.socket.address() as { address: string; port: number }
      await client.send('hello through haproxy\n')
      expect(await client.readLine()).toBe(`${local.address}:${local.port} via ${version}\n`)
      expect(await client.readLine()).toBe('hello through haproxy\n')
      client.destroy()
      await serving.stop()
      expect(serving.errors).toEqual([])
    },
  )

  test('send-proxy-v2-ssl: HAProxy ends TLS and tells what it saw in the SSL TLV', async () => {
    const { dir, keyPath: key, certPath: cert } = selfSignedCertificate()
    const bundle = join(dir, 'bundle.pem')
    execFileSync('sh', ['-c', `cat "${cert}" "${key}" > "${bundle}"`])
    const server = withProxyProtocol(await listen('tcp4'))
    let seen: ProxiedStreamRequest['proxy'] | undefined
    const serving = serveInBackground(server, async (request: ProxiedStreamRequest) => {
      seen = request.proxy
      await reportsTheClient(request)
    })
    const port = await startHAProxy(server.address, { serverOptions: 'send-proxy-v2-ssl', bindOptions: `ssl crt ${bundle}` })
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve)
      socket.once('error', reject)
    })
    const client = new LoopbackClient(socket as unknown as import('node:net').Socket)
    expect(await client.readLine()).toMatch(/^127\.0\.0\.1:\d+ via 2\n$/)
    expect(seen?.ssl).toMatchObject({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) })
    client.destroy()
    await serving.stop()
  })
})
