// A real HAProxy in front of our servers, in TCP mode with send-proxy,
// send-proxy-v2 and send-proxy-v2-ssl. HAProxy listens on a socket this
// test binds to port 0 and hands it as descriptor 3 (`bind fd@3`), so no
// fixed port is needed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { formatAddress, type SocketAddress } from '@socketserver/core'
import { type ProxiedStreamRequest, withProxyProtocol } from '@socketserver/proxy-protocol'
import { connect, LoopbackClient, listen, registerCleanup, serveInBackground } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const haproxy = (() => {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** Starts HAProxy with `frontend` lines (after `bind fd@3 ...`) in front of `backend`; resolves with the port it listens on. */
async function startHAProxy(backend: SocketAddress, serverOptions: string, bindOptions = ''): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ss-haproxy-'))
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const target = 'path' in backend ? `unix@${backend.path}` : `${backend.host}:${backend.port}`
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend in',
      `  bind fd@3 ${bindOptions}`,
      '  default_backend out',
      'backend out',
      `  server ours ${target} ${serverOptions}`,
      '',
    ].join('\n'),
  )
  // Python binds port 0, says which port, and execs HAProxy with the socket as descriptor 3.
  const launcher = [
    'import os, socket, sys',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(128)',
    "sys.stdout.write(str(s.getsockname()[1]) + '\\n'); sys.stdout.flush()",
    'os.dup2(s.fileno(), 3)',
    'os.set_inheritable(3, True)',
    "os.execvp('haproxy', ['haproxy', '-db', '-f', sys.argv[1]])",
  ].join('\n')
  const child: ChildProcess = spawn('python3', ['-c', launcher, config], { stdio: ['ignore', 'pipe', 'pipe'] })
  registerCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    child.once('exit', (code) => reject(new Error(`Cannot start HAProxy: it exited with ${code}: ${stderr}`)))
  })
}

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
      const port = await startHAProxy(server.address, option)
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
    const dir = mkdtempSync(join(tmpdir(), 'ss-haproxy-cert-'))
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
      {
        stdio: 'ignore',
      },
    )
    const bundle = join(dir, 'bundle.pem')
    execFileSync('sh', ['-c', `cat "${cert}" "${key}" > "${bundle}"`])
    const server = withProxyProtocol(await listen('tcp4'))
    let seen: ProxiedStreamRequest['proxy'] | undefined
    const serving = serveInBackground(server, async (request: ProxiedStreamRequest) => {
      seen = request.proxy
      await reportsTheClient(request)
    })
    const port = await startHAProxy(server.address, 'send-proxy-v2-ssl', `ssl crt ${bundle}`)
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
