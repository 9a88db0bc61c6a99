import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import { chargenBytes } from '@socketserver/cli'
import { parseHostPort, type SocketAddress, UnixDatagramServer } from '@socketserver/core'
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from '@socketserver/proxy-protocol'
import {
  connect,
  openDatagramClient,
  registerCleanup,
  selfSignedCertificate,
  spawnInNetworkNamespace,
  tempSocketPath,
  until,
} from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const BIN = fileURLToPath(new URL('../../bin/socketserver.js', import.meta.url))

interface Running {
  child: ChildProcess
  /** Addresses from the "listening" lines, in order. */
  addresses: SocketAddress[]
  stderr: () => string
  exit: Promise<number | null>
}

/** Starts the command and waits for one "listening" line per listener. */
async function start(args: string[], listeners: number): Promise<Running> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  registerCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  const addresses: SocketAddress[] = []
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const deadline = AbortSignal.timeout(10_000)
  for await (const line of lines) {
    const [word, transport, address] = line.split(' ') as [string, string, string]
    expect(word).toBe('listening')
    if (transport === 'tcp' || transport === 'udp' || transport === 'tls') {
      const { host, port } = parseHostPort(address)
      addresses.push({ transport: transport === 'tls' ? 'tcp' : transport, host, port, family: host.includes(':') ? 'IPv6' : 'IPv4' })
    } else if (transport === 'tls-unix') {
      addresses.push({ transport: 'unix', path: address })
    } else {
      addresses.push({ transport: transport as 'unix' | 'unix-dgram', path: address })
    }
    if (addresses.length === listeners || deadline.aborted) break
  }
  expect(addresses).toHaveLength(listeners)
  return { child, addresses, stderr: () => stderr, exit }
}

/** Runs the command to its end. */
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code] = await once(child, 'exit', { signal: AbortSignal.timeout(10_000) })
  return { code: code as number | null, stdout, stderr }
}

describe('socketserver serve', () => {
  test('echo on TCP v4, v6 and a Unix socket prints its listeners, echoes, and stops on SIGTERM with exit 0, removing the socket file', async () => {
    const path = tempSocketPath()
    const cli = await start(['serve', 'echo', '--tcp', '127.0.0.1:0', '--tcp', '[::1]:0', '--unix', path], 3)
    expect(cli.addresses[2]).toEqual({ transport: 'unix', path })
    for (const address of cli.addresses) {
      const client = await connect(address)
      await client.send('ping\n')
      expect(await client.readLine()).toBe('ping\n')
      client.end()
      await client.waitForEnd()
    }
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(existsSync(path)).toBe(false)
  })

  test('echo over UDP and a Unix datagram socket, mixed with a stream listener, and SIGTERM removes the datagram path', async () => {
    const path = tempSocketPath('d.sock')
    const cli = await start(['serve', 'echo', '--udp', '127.0.0.1:0', '--unix-dgram', path, '--tcp', '127.0.0.1:0'], 3)
    for (const address of cli.addresses.slice(0, 2)) {
      const client = await openDatagramClient(address)
      await client.send('datagram')
      expect((await client.receive()).toString()).toBe('datagram')
      client.close()
    }
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(existsSync(path)).toBe(false)
  })

  test('serves every builtin over TCP', async () => {
    const check: Record<string, (client: Awaited<ReturnType<typeof connect>>) => Promise<void>> = {
      discard: async (client) => {
        await client.send('into the void\n')
        client.end()
        expect((await client.readAll()).length).toBe(0)
      },
      chargen: async (client) => {
        expect(await client.readLine()).toBe(`${' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg'}\r\n`)
        client.destroy()
      },
      daytime: async (client) => {
        expect(await client.readLine()).toMatch(/^\w+day, \w+ \d{1,2}, \d{4} \d\d:\d\d:\d\d-UTC\r\n$/)
        await client.waitForEnd()
      },
      time: async (client) => {
        const bytes = await client.readAll()
        expect(bytes.length).toBe(4)
        const now = Math.floor(Date.now() / 1000) + 2_208_988_800
        expect(Math.abs(bytes.readUInt32BE() - (now % 2 ** 32))).toBeLessThan(5)
      },
    }
    for (const [service, verify] of Object.entries(check)) {
      const cli = await start(['serve', service, '--tcp', '127.0.0.1:0'], 1)
      await verify(await connect(cli.addresses[0] as SocketAddress))
      cli.child.kill('SIGTERM')
      expect(await cli.exit).toBe(0)
    }
  })

  test('serves the builtins over UDP per their RFCs', async () => {
    const cli = await start(['serve', 'chargen', '--udp', '127.0.0.1:0'], 1)
    const client = await openDatagramClient(cli.addresses[0] as SocketAddress)
    for (let i = 0; i < 5; i++) {
      await client.send('any')
      const reply = await client.receive()
      expect(reply.length).toBeLessThanOrEqual(512)
      expect(reply.equals(chargenBytes(reply.length))).toBe(true)
    }
    client.close()
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    for (const [service, verify] of [
      ['time', (reply: Buffer) => expect(reply.length).toBe(4)],
      ['daytime', (reply: Buffer) => expect(reply.toString()).toMatch(/-UTC\r\n$/)],
      ['echo', (reply: Buffer) => expect(reply.toString()).toBe('any')],
    ] as const) {
      const running = await start(['serve', service, '--udp', '127.0.0.1:0'], 1)
      const asker = await openDatagramClient(running.addresses[0] as SocketAddress)
      await asker.send('any')
      verify(await asker.receive())
      asker.close()
      running.child.kill('SIGTERM')
      expect(await running.exit).toBe(0)
    }
  })

  test('--max-packet-size drops larger datagrams whole and reports them on stderr', async () => {
    const cli = await start(['serve', 'echo', '--udp', '127.0.0.1:0', '--max-packet-size', '16'], 1)
    const client = await openDatagramClient(cli.addresses[0] as SocketAddress)
    await client.send('x'.repeat(17))
    await client.send('small')
    expect((await client.receive()).toString()).toBe('small')
    client.close()
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(cli.stderr()).toContain('DatagramTooLargeError')
  })

  test('SIGTERM with 100 idle echo clients exits 0 at once, under pooled and forked; a client mid-echo gets what was received back (#16)', async () => {
    for (const policy of ['pooled', 'forked']) {
      // The default drain deadline (30 s) would outlast the test: an exit well before it is the idle connections ending.
      const room = policy === 'pooled' ? ['--concurrency', '200'] : ['--max-children', '2', '--child-concurrency', '100']
      const cli = await start(['serve', 'echo', '--tcp', '127.0.0.1:0', '--policy', policy, ...room], 1)
      const address = cli.addresses[0] as SocketAddress
      const clients = await Promise.all(Array.from({ length: 100 }, () => connect(address)))
      await Promise.all(clients.map((client) => client.send('hi\n')))
      for (const client of clients) expect(await client.readLine()).toBe('hi\n')
      // A large message still being echoed when the stop begins: all of it comes back.
      const busy = await connect(address)
      const message = Buffer.alloc(4 << 20, 0x61)
      void busy.send(message)
      await until(() => busy.buffered.length > 0, 10_000, 'the echo to start')
      const started = performance.now()
      cli.child.kill('SIGTERM')
      expect(await cli.exit).toBe(0)
      const stoppedInMs = performance.now() - started
      // Every idle client sees a clean end.
      await Promise.all(clients.map((client) => client.waitForEnd()))
      expect(clients.every((client) => client.error === undefined)).toBe(true)
      // Echo has no messages: what it received is sent back, then the stream ends.
      await busy.waitForEnd()
      expect(busy.buffered.length).toBeGreaterThan(0)
      expect(cli.stderr()).toBe('')
      // Far below the 30 s drain deadline on any machine.
      expect(stoppedInMs).toBeLessThan(15_000)
      for (const client of [...clients, busy]) client.destroy()
    }
  })

  test('serves a handler module (a function) from a path, under the forked policy too', async () => {
    const dir = dirname(tempSocketPath())
    const module = join(dir, 'shout.mjs')
    writeFileSync(
      module,
      `export default async (request) => {
  for await (const chunk of request.source) { request.socket.write(Buffer.from(chunk).toString().toUpperCase()); break }
}
`,
    )
    for (const policy of ['pooled', 'forked']) {
      const cli = await start(['serve', module, '--tcp', '127.0.0.1:0', '--policy', policy], 1)
      const client = await connect(cli.addresses[0] as SocketAddress)
      await client.send('quiet\n')
      expect(await client.readLine()).toBe('QUIET\n')
      cli.child.kill('SIGTERM')
      expect(await cli.exit).toBe(0)
    }
  })

  test('a handler module that reads with for await over request.socket and ends the socket with its reply: the lost reply is reported on stderr, and serving goes on (#14)', async () => {
    const module = join(dirname(tempSocketPath()), 'naive.mjs')
    writeFileSync(
      module,
      `export default async (request) => {
  let text = ''
  for await (const chunk of request.socket) { text += chunk; if (text.includes('\\n')) break }
  request.socket.end(text.toUpperCase())
}
`,
    )
    for (const policy of ['pooled', 'forked']) {
      const cli = await start(['serve', module, '--tcp', '127.0.0.1:0', '--policy', policy], 1)
      for (const word of ['first', 'second']) {
        const client = await connect(cli.addresses[0] as SocketAddress)
        await client.send(`${word}\n`)
        await client.waitForEnd()
        expect(client.buffered.toString()).toBe('')
        const port = client.socket.localPort
        await until(() => cli.stderr().includes(`127.0.0.1:${port}`), 10_000, 'the lost reply to be reported')
      }
      expect(cli.stderr()).toMatch(/ReplyError: Cannot send 6 bytes to 127\.0\.0\.1:\d+: .*destroyed on this side/)
      cli.child.kill('SIGTERM')
      expect(await cli.exit).toBe(0)
    }
  })

  test('--proxy-protocol any: echo over TCP and Unix behind a PROXY header; a connection without one is refused and reported, and serving goes on', async () => {
    const path = tempSocketPath()
    const cli = await start(
      ['serve', 'echo', '--tcp', '127.0.0.1:0', '--unix', path, '--proxy-protocol', 'any', '--trusted-proxy', '127.0.0.1'],
      2,
    )
    const source: SocketAddress = { transport: 'tcp', host: '203.0.113.9', port: 5555, family: 'IPv4' }
    const destination: SocketAddress = { transport: 'tcp', host: '198.51.100.1', port: 7, family: 'IPv4' }
    const plain = await connect(cli.addresses[0] as SocketAddress)
    await plain.send('no header\n')
    await plain.waitForEnd()
    plain.destroy()
    await until(() => cli.stderr().includes('ProxyProtocolError'))
    expect(cli.stderr()).toMatch(/Cannot accept the connection from 127\.0\.0\.1:\d+: the connection does not start with a PROXY header/)
    for (const [address, header] of [
      [cli.addresses[0], encodeProxyHeaderV1({ command: 'proxy', source, destination })],
      [cli.addresses[1], encodeProxyHeaderV2({ command: 'proxy', source, destination })],
    ] as const) {
      const client = await connect(address as SocketAddress)
      await client.send(Buffer.concat([header, Buffer.from('ping\n')]))
      expect(await client.readLine()).toBe('ping\n')
      client.end()
      await client.waitForEnd()
    }
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
  })

  test.each([[[]], [['--policy', 'forked']]])(
    '--tls and --tls-unix %j: echo over TLS, "listening tls" lines, and SIGHUP reads the certificate again',
    async (policy: string[]) => {
      const dir = mkdtempSync(join(tmpdir(), 'ss-cli-tls-'))
      registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
      const make = (name: string, cn: string): void => void selfSignedCertificate(cn, { dir, name })
      make('first', 'first')
      make('second', 'second')
      execFileSync('cp', [join(dir, 'first.pem'), join(dir, 'cert.pem')])
      execFileSync('cp', [join(dir, 'first-key.pem'), join(dir, 'key.pem')])
      const path = tempSocketPath()
      const cli = await start(
        [
          'serve',
          'echo',
          '--tls',
          '127.0.0.1:0',
          '--tls-unix',
          path,
          '--tls-cert',
          join(dir, 'cert.pem'),
          '--tls-key',
          join(dir, 'key.pem'),
          ...policy,
        ],
        2,
      )
      const exchange = async (address: SocketAddress): Promise<string> => {
        const target =
          'path' in address
            ? { path: address.path ?? '' }
            : { host: (address as { host: string }).host, port: (address as { port: number }).port }
        const socket = tls.connect({ ...target, rejectUnauthorized: false })
        registerCleanup(() => socket.destroy())
        await once(socket, 'secureConnect')
        const name = socket.getPeerCertificate().subject.CN as string
        socket.end('ping\n')
        let echoed = ''
        for await (const chunk of socket) echoed += chunk.toString()
        expect(echoed).toBe('ping\n')
        return name
      }
      for (const address of cli.addresses) expect(await exchange(address)).toBe('first')
      execFileSync('cp', [join(dir, 'second.pem'), join(dir, 'cert.pem')])
      execFileSync('cp', [join(dir, 'second-key.pem'), join(dir, 'key.pem')])
      cli.child.kill('SIGHUP')
      await until(() => cli.stderr().includes('reloaded the TLS certificate'))
      expect(await exchange(cli.addresses[0] as SocketAddress)).toBe('second')
      cli.child.kill('SIGTERM')
      expect(await cli.exit).toBe(0)
    },
  )

  test('--listen-fds under systemd-socket-activate: serves the activated TCP and Unix sockets, prints their lines, and tells $NOTIFY_SOCKET READY=1 then STOPPING=1', async () => {
    const path = tempSocketPath()
    const notifyPath = tempSocketPath()
    const manager = await UnixDatagramServer.bind({ path: notifyPath })
    registerCleanup(() => manager.close())
    const states = manager[Symbol.asyncIterator]()
    const nextState = async (): Promise<string> => Buffer.from(((await states.next()).value as { data: Uint8Array }).data).toString()
    // systemd-socket-activate takes no port 0: a fixed port, in a network namespace of its own.
    const activator = spawnInNetworkNamespace('systemd-socket-activate', [
      '-l',
      '127.0.0.1:7007',
      '-l',
      path,
      '-E',
      `NOTIFY_SOCKET=${notifyPath}`,
      process.execPath,
      BIN,
      'serve',
      'echo',
      '--listen-fds',
    ])
    await activator.waitFor(`Listening on ${path}`)
    // The activator starts the command at the first connection, which is then served.
    const client = await connect({ transport: 'unix', path })
    await client.send('first\n')
    expect(await client.readLine()).toBe('first\n')
    client.destroy()
    await activator.waitFor(`listening unix ${path}`)
    expect(activator.output()).toContain('listening tcp 127.0.0.1:7007\n')
    expect(await nextState()).toBe('READY=1')
    const exchange = await activator.run('python3', [
      '-c',
      "import socket; s = socket.create_connection(('127.0.0.1', 7007), timeout=5); s.sendall(b'over tcp'); s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())",
    ])
    expect(exchange.stdout).toBe('over tcp\n')
    activator.child.kill('SIGTERM')
    expect(await nextState()).toBe('STOPPING=1')
    expect((await activator.exit).code).toBe(0)
  })

  test('--listen-fds without sockets passed in exits 2, saying so', async () => {
    const { code, stderr } = await run(['serve', 'echo', '--listen-fds'])
    expect(code).toBe(2)
    expect(stderr).toContain('Cannot use --listen-fds: no sockets were passed to this process')
  })

  test('--help documents the command and exits 0', async () => {
    const { code, stdout } = await run(['--help'])
    expect(code).toBe(0)
    for (const word of [
      '--tcp',
      '--udp',
      '--unix',
      '--unix-dgram',
      '--policy',
      '--max-packet-size',
      '--processes',
      '--listen-fds',
      'chargen',
      'RFC 868',
    ])
      expect(stdout).toContain(word)
  })

  test.each([
    [['serve', 'nonsense', '--tcp', '127.0.0.1:0'], 'not a builtin service'],
    [['serve', 'echo', '--tcp', 'localhost'], 'expected HOST:PORT'],
    [['serve', 'echo'], 'without a listener'],
    [['serve', 'echo', '--listen-fds=yes'], '--listen-fds takes no value'],
    [['serve', './does-not-exist.mjs', '--tcp', '127.0.0.1:0'], 'Cannot load the handler module'],
    [['serve', 'echo', '--udp', '127.0.0.1:0', '--max-packet-size', '999999999'], 'Cannot use maxPacketSize 999999999'],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--proxy-protocol', 'v3'], 'expected v1, v2 or any'],
    [
      ['serve', 'echo', '--tcp', '127.0.0.1:0', '--proxy-protocol', 'v1', '--trusted-proxy', '10.0.0.0/33'],
      'expected an address or a CIDR network',
    ],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--trusted-proxy', '10.0.0.1'], 'without --proxy-protocol'],
    [['serve', 'echo', '--udp', '127.0.0.1:0', '--proxy-protocol', 'v2'], 'without a stream listener'],
    [['serve', 'echo', '--tls', '127.0.0.1:0', '--tls-cert', 'c.pem'], 'Cannot serve TLS without --tls-key FILE'],
    [['serve', 'echo', '--tls', '127.0.0.1:0'], 'without --tls-cert FILE and --tls-key FILE'],
    [
      ['serve', 'echo', '--tls', '127.0.0.1:0', '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'],
      'Cannot read --tls-key "/nonexistent/k.pem"',
    ],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--tls-cert', 'c.pem'], 'Cannot use --tls-cert without a TLS listener'],
    [
      ['serve', 'echo', '--tls', '127.0.0.1:0', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-client-cert', 'require'],
      'without --tls-ca FILE',
    ],
  ])('bad arguments %j: message on stderr, exit 2', async (args, message) => {
    const { code, stderr } = await run(args)
    expect(code).toBe(2)
    expect(stderr).toContain(message)
  })

  test('a handler module that throws a value with no text form (a null-prototype object) is reported, exit 2', async () => {
    const module = join(dirname(tempSocketPath()), 'throws.mjs')
    writeFileSync(module, 'throw Object.create(null)\n')
    const { code, stderr } = await run(['serve', module, '--tcp', '127.0.0.1:0'])
    expect(code).toBe(2)
    expect(stderr).toContain('Cannot load the handler module')
    expect(stderr).toContain('[object Object]')
  })

  test('a port in use: message naming the address on stderr, exit 1', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    registerCleanup(() => new Promise((resolve) => blocker.close(resolve)))
    const port = (blocker.address() as net.AddressInfo).port
    const { code, stderr } = await run(['serve', 'echo', '--tcp', '127.0.0.1:0', '--tcp', `127.0.0.1:${port}`])
    expect(code).toBe(1)
    expect(stderr).toContain(`127.0.0.1:${port}`)
    expect(stderr).toContain('already in use')
  })
})

describe('socketserver serve, stopping', () => {
  test('chargen to a client reading as fast as it can still lets the process serve others and stop on SIGTERM', async () => {
    const cli = await start(['serve', 'chargen', '--tcp', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--drain-timeout-ms', '200'], 2)
    const [tcp, udp] = cli.addresses as [SocketAddress, SocketAddress]
    if (!('port' in tcp)) throw new Error('Cannot read the TCP listener')
    // A reader in a process of its own, as fast as loopback goes: the
    // server's writes are then taken at once, never pushing back.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `let n = 0; require('net').connect(${tcp.port}, '127.0.0.1').on('data', (c) => { n += c.length; if (n > 1 << 20) { console.log('READING'); n = -Infinity } })`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
    registerCleanup(() => reader.kill('SIGKILL'))
    await once(createInterface({ input: reader.stdout as NodeJS.ReadableStream }), 'line')
    // While it reads, a datagram client is answered...
    const client = await openDatagramClient(udp)
    await client.send('x')
    expect((await client.receive(10_000)).length).toBeLessThanOrEqual(512)
    client.close()
    // ...and SIGTERM stops the command (the drain deadline ends the chargen request).
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
  })

  test('a second SIGTERM ends running requests at once instead of waiting for the drain deadline', async () => {
    const dir = dirname(tempSocketPath())
    const module = join(dir, 'hang.mjs')
    writeFileSync(module, 'export default async (request) => { request.socket.write("in\\n"); await new Promise(() => {}) }\n')
    const cli = await start(['serve', module, '--tcp', '127.0.0.1:0', '--drain-timeout-ms', '600000'], 1)
    const client = await connect(cli.addresses[0] as SocketAddress)
    expect(await client.readLine()).toBe('in\n')
    cli.child.kill('SIGTERM')
    // The first signal closed the listener; then the second one forces.
    // Only a refusal says it closed: a probe that merely got no answer in
    // time (a loaded machine) would send the second signal too early, and
    // two SIGTERMs still pending together are delivered as one.
    const address = cli.addresses[0] as SocketAddress
    await until(
      () =>
        connect(address).then(
          (probe) => {
            probe.destroy()
            return false
          },
          (error: { code?: string }) => error.code === 'ECONNREFUSED',
        ),
      10_000,
      'the listener to close',
    )
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(cli.stderr()).toContain('DrainTimeoutError')
    await client.waitForEnd()
  })
})

describe("a module's listening() export", () => {
  test('runs once the listeners are bound, before the listening lines; what it returns runs after serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-hook-'))
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
    const module = join(dir, 'hooked.mjs')
    const log = join(dir, 'log')
    writeFileSync(
      module,
      `import { appendFileSync } from 'node:fs'
export default (request) => request.sink(request.source)
export function listening(servers, signal) {
  appendFileSync(${JSON.stringify(log)}, 'listening ' + servers.length + ' ' + signal.aborted + '\\n')
  return () => appendFileSync(${JSON.stringify(log)}, 'stopped ' + signal.aborted + '\\n')
}
`,
    )
    const cli = await start(['serve', module, '--tcp', '127.0.0.1:0', '--udp', '127.0.0.1:0'], 2)
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(log, 'utf8')).toBe('listening 2 false\n')
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(readFileSync(log, 'utf8')).toBe('listening 2 false\nstopped true\n')
  })

  test('one that throws stops the command with exit 1 before anything is served', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-hook-'))
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
    const module = join(dir, 'failing.mjs')
    writeFileSync(module, `export default () => {}\nexport async function listening() { throw new Error('no portmapper') }\n`)
    const result = await run(['serve', module, '--tcp', '127.0.0.1:0'])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain("the module's listening() failed: no portmapper")
  })
})

describe('socketserver rpcgen', () => {
  test('writes a module per .x file, and exits 1 naming the line of a syntax error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-rpcgen-'))
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'ok.x'), 'const N = 3;\nprogram P { version V { int F(int) = 1; } = 1; } = 0x20000077;\n')
    writeFileSync(join(dir, 'bad.x'), 'const N = 3;\nstruct s { int; };\n')
    const ok = await run(['rpcgen', join(dir, 'ok.x'), '--out', dir, '--js'])
    expect([ok.code, ok.stdout]).toEqual([0, `wrote ${join(dir, 'ok.js')}\n`])
    expect(existsSync(join(dir, 'ok.js'))).toBe(true)
    const bad = await run(['rpcgen', join(dir, 'bad.x'), '--out', dir])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('bad.x:2:15: expected a name, found ;')
    const usage = await run(['rpcgen'])
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('Cannot compile without a .x file')])
  })
})
