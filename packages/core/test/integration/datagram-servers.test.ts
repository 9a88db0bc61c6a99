import { execFile, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  type DatagramRequest,
  DatagramTooLargeError,
  HandlerError,
  InvalidOptionError,
  pooled,
  ReplyError,
  SocketPathInUseError,
  SocketPathNotSocketError,
  serve,
  UDPServer,
  UnixDatagramServer,
} from '@socketserver/core'
import {
  ConcurrencyProbe,
  DATAGRAM_TRANSPORTS,
  describeDatagramHandlerCompliance,
  describeDatagramSourceCompliance,
  Gate,
  listenDatagram,
  nextEvent,
  openDatagramClient,
  registerCleanup,
  serveInBackground,
  tempSocketPath,
  until,
} from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

for (const transport of DATAGRAM_TRANSPORTS)
  describeDatagramSourceCompliance(`compliance of the datagram server over ${transport}`, () => listenDatagram(transport))

const echo = (request: DatagramRequest): Promise<void> => request.reply(request.data)
const UNREAD_CLIENT = new URL('../fixtures/unread-dgram-client.mjs', import.meta.url)

describeDatagramHandlerCompliance('datagram echo', {
  handler: echo,
  exchange: async (client) => {
    for (const text of ['one', 'two']) {
      await client.send(text)
      expect((await client.receive()).toString()).toBe(text)
    }
  },
})

describe.each(DATAGRAM_TRANSPORTS)('datagram server over %s', (transport) => {
  test('echoes binary payloads byte for byte, and an empty datagram as empty data', async () => {
    const server = await listenDatagram(transport)
    const seen: number[] = []
    serveInBackground(server, (request: DatagramRequest) => {
      seen.push(request.data.length)
      return request.reply(request.data)
    })
    const client = await openDatagramClient(server.address)
    const payload = randomBytes(4_096)
    await client.send(payload)
    expect((await client.receive()).equals(payload)).toBe(true)
    await client.send(new Uint8Array(0))
    expect((await client.receive()).length).toBe(0)
    expect(seen).toEqual([4_096, 0])
    client.close()
  })

  test('a request running when serve() stops still replies during the drain; the socket closes after it', async () => {
    const server = await listenDatagram(transport)
    const started = new Gate()
    const release = new Gate()
    const errors: unknown[] = []
    const controller = new AbortController()
    const done = serve(
      server,
      async (request: DatagramRequest) => {
        started.open()
        await release.wait()
        await request.reply('after stop')
      },
      { signal: controller.signal, handleError: (error) => errors.push(error) },
    )
    const client = await openDatagramClient(server.address)
    await client.send('first')
    await started.wait()
    controller.abort()
    release.open()
    expect((await client.receive()).toString()).toBe('after stop')
    await done
    expect(server.closed).toBe(true)
    expect(errors).toEqual([])
    client.close()
  })

  test('serves a datagram of exactly maxPacketSize bytes and drops one byte more whole, reporting DatagramTooLargeError', async () => {
    // An IPv4 client cannot even send more than 65,507 bytes; test the
    // boundary at a smaller limit there.
    const limit = transport === 'udp6' ? 65_507 : 2_048
    const server = await listenDatagram(transport, { maxPacketSize: limit })
    const sizes: number[] = []
    const serving = serveInBackground(server, (request: DatagramRequest) => {
      sizes.push(request.data.length)
      return request.reply(Buffer.from(String(request.data.length)))
    })
    const client = await openDatagramClient(server.address)
    await client.send(Buffer.alloc(limit, 1))
    expect((await client.receive()).toString()).toBe(String(limit))
    await client.send(Buffer.alloc(limit + 1, 2))
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    const error = serving.errors[0] as DatagramTooLargeError
    expect(error).toBeInstanceOf(DatagramTooLargeError)
    expect(error).toMatchObject({ code: 'SS_ERR_DATAGRAM_TOO_LARGE', size: limit + 1, limit })
    expect(server.stats.oversized).toBe(1)
    await client.send('after')
    expect((await client.receive()).toString()).toBe('5')
    expect(sizes).toEqual([limit, 5])
    client.close()
  })

  test('serves a 65,507-byte datagram with the default maxPacketSize', async () => {
    const server = await listenDatagram(transport)
    expect(server.maxPacketSize).toBe(65_507)
    serveInBackground(server, (request: DatagramRequest) => request.reply(Buffer.from(String(request.data.length))))
    const client = await openDatagramClient(server.address)
    await client.send(Buffer.alloc(65_507, 7))
    expect((await client.receive()).toString()).toBe('65507')
    client.close()
  })

  test('a handler that throws is reported and the next datagram is served', async () => {
    const server = await listenDatagram(transport)
    let calls = 0
    const serving = serveInBackground(server, async (request: DatagramRequest) => {
      if (++calls === 1) throw new Error('bad datagram')
      await request.reply(request.data)
    })
    const client = await openDatagramClient(server.address)
    await client.send('first')
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
    await client.send('second')
    expect((await client.receive()).toString()).toBe('second')
    client.close()
  })

  test('many clients at once under pooled are all answered, at most the concurrency at a time', async () => {
    const server = await listenDatagram(transport)
    const probe = new ConcurrencyProbe()
    const gate = new Gate()
    const serving = serveInBackground(
      server,
      async (request: DatagramRequest) => {
        probe.enter()
        await gate.wait()
        await request.reply(request.data)
        probe.exit()
      },
      { policy: pooled({ concurrency: 4 }) },
    )
    // node-unix-socket delivers to at most about a dozen of its sockets open
    // at once in one process (seen on Linux), so the Unix case uses 8 clients.
    const clients = await Promise.all(Array.from({ length: transport === 'unix-dgram' ? 8 : 16 }, () => openDatagramClient(server.address)))
    await Promise.all(clients.map((client, i) => client.send(`client ${i}`)))
    await probe.waitUntil((current) => current === 4)
    gate.open()
    const replies = await Promise.all(clients.map((client) => client.receive()))
    expect(serving.errors).toEqual([])
    expect(replies.map((reply) => reply.toString())).toEqual(clients.map((_, i) => `client ${i}`))
    expect(probe.peak).toBe(4)
    for (const client of clients) client.close()
  })

  test('while nobody pulls, datagrams wait in a bounded queue; the overflow is counted and reported', async () => {
    const server = await listenDatagram(transport, { maxPendingDatagrams: 3 })
    const client = await openDatagramClient(server.address)
    for (let i = 0; i < 3; i++) await client.send(`queued ${i}`)
    await until(() => server.pendingDatagrams === 3, 5_000, 'three queued datagrams')
    await client.send('one too many')
    await until(() => server.stats.overflowed === 1, 5_000, 'one overflowed datagram')
    const iterator = server[Symbol.asyncIterator]()
    for (let i = 0; i < 3; i++) {
      const { value } = await iterator.next()
      expect(Buffer.from(value?.data ?? []).toString()).toBe(`queued ${i}`)
    }
    client.close()
  })
})

describe('UDPServer', () => {
  test('a reply to a destination Node refuses at once (port 0) rejects with ReplyError, not a bare RangeError', async () => {
    await using server = await UDPServer.bind({ host: '127.0.0.1', port: 0 })
    // A sender's port 0 takes a raw socket to forge; the server's own send path is what is tested.
    const send = (server as unknown as { sendTo(data: Uint8Array, to: unknown): Promise<void> }).sendTo.bind(server)
    await expect(send(Buffer.from('x'), { transport: 'udp', host: '127.0.0.1', port: 0, family: 'IPv4' })).rejects.toBeInstanceOf(
      ReplyError,
    )
  })

  test('a reply larger than the socket can send reaches handleError as DatagramTooLargeError; serving goes on', async () => {
    const server = await listenDatagram('udp4')
    const serving = serveInBackground(server, (request: DatagramRequest) =>
      request.reply(request.data.length === 1 ? Buffer.alloc(70_000) : request.data),
    )
    const client = await openDatagramClient(server.address)
    await client.send('x')
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect((serving.errors[0] as HandlerError).cause).toBeInstanceOf(DatagramTooLargeError)
    await client.send('ok')
    expect((await client.receive()).toString()).toBe('ok')
    client.close()
  })

  test('host "::" is dual-stack and replies reach IPv4 clients', async () => {
    await using server = await UDPServer.bind({ host: '::', port: 0 })
    serveInBackground(server, echo)
    const port = (server.address as { port: number }).port
    const client = await openDatagramClient({ transport: 'udp', host: '127.0.0.1', port, family: 'IPv4' })
    await client.send('mapped')
    expect((await client.receive()).toString()).toBe('mapped')
    client.close()
  })

  test('rejects a maxPacketSize above what UDP can carry, and an address in use with EADDRINUSE', async () => {
    expect(() => new UDPServer({ maxPacketSize: 70_000 })).toThrow(InvalidOptionError)
    const server = await listenDatagram('udp4')
    const port = (server.address as { port: number }).port
    await expect(UDPServer.bind({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })

  test('reports its file descriptor until closed', async () => {
    const server = await listenDatagram('udp4')
    expect(server.fileno()).toBeGreaterThan(2)
    await server.close()
    expect(server.fileno()).toBe(-1)
  })
})

describe('UnixDatagramServer', () => {
  test('an unbound client is seen as unnamed, and reply() rejects with ReplyError SS_ERR_UNBOUND_CLIENT; nothing crashes', async () => {
    const server = await listenDatagram('unix-dgram')
    const seen: unknown[] = []
    const serving = serveInBackground(server, async (request: DatagramRequest) => {
      seen.push(request.clientAddress)
      await request.reply('unreachable')
    })
    const unnamed = await openDatagramClient(server.address, { bind: false })
    await unnamed.send('hello')
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(seen).toEqual([{ transport: 'unix-dgram', path: null }])
    // A lost reply is reported as itself, whoever threw it (#16: one error shape).
    const cause = serving.errors[0] as ReplyError
    expect(cause).toBeInstanceOf(ReplyError)
    expect(cause.code).toBe('SS_ERR_UNBOUND_CLIENT')
    unnamed.close()
    const named = await openDatagramClient(server.address)
    await named.send('named')
    await expect(named.receive()).resolves.toBeDefined()
    named.close()
  })

  test('follows the socket path rules: stale replaced, non-socket refused, live refused, ours removed on close, mode set', async () => {
    const path = tempSocketPath()
    writeFileSync(path, 'keep me')
    await expect(UnixDatagramServer.bind({ path })).rejects.toBeInstanceOf(SocketPathNotSocketError)
    const live = await listenDatagram('unix-dgram')
    const livePath = (live.address as { path: string }).path
    await expect(UnixDatagramServer.bind({ path: livePath })).rejects.toBeInstanceOf(SocketPathInUseError)
    const other = tempSocketPath()
    const server = await UnixDatagramServer.bind({ path: other, mode: 0o640 })
    expect(lstatSync(other).mode & 0o777).toBe(0o640)
    await server.close()
    expect(existsSync(other)).toBe(false)
  })

  test('replaces a stale socket file in a fresh process (where node-unix-socket loads after the path was examined)', async () => {
    const path = tempSocketPath()
    // A stale socket file: bound by a process that is gone.
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(${JSON.stringify(path)})`])
    expect(lstatSync(path).isSocket()).toBe(true)
    const core = new URL('../../dist/index.js', import.meta.url).href
    const script = `const { UnixDatagramServer } = await import(${JSON.stringify(core)}); const s = await UnixDatagramServer.bind({ path: ${JSON.stringify(path)} }); console.log('bound'); await s.close()`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])
    expect(stdout).toBe('bound\n')
  })

  test('a client that reads no replies until its queue is full costs its own replies only: the server keeps serving', async () => {
    const server = await listenDatagram('unix-dgram')
    const serving = serveInBackground(server, echo)
    const serverPath = (server.address as { path: string }).path
    // 30 requests, more than the client's receive queue holds (10 by default).
    const client = spawn(process.execPath, [fileURLToPath(UNREAD_CLIENT), serverPath, tempSocketPath(), '30'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    registerCleanup(() => void client.kill('SIGKILL'))
    await nextEvent(client.stdout, 'data')
    // Its 11th reply or so would block. (How many of the 30 requests arrive
    // depends on timing: those still queued in the replaced socket are lost.)
    await vi.waitFor(() => expect(serving.errors.length).toBeGreaterThan(0), { timeout: 10_000 })
    // A lost reply is reported as itself, whoever threw it (#16: one error shape).
    const cause = serving.errors[0] as ReplyError
    expect(cause).toBeInstanceOf(ReplyError)
    expect(cause.code).toBe('EAGAIN')
    expect((server as UnixDatagramServer).replacedSockets).toBeGreaterThan(0)
    // Before, node-unix-socket stopped reading after the blocked send: the
    // server went deaf (and spun the CPU) for good.
    const good = await openDatagramClient(server.address)
    await good.send('still there?')
    expect((await good.receive()).toString()).toBe('still there?')
    good.close()
  })

  test('rejects a maxPacketSize it could not receive whole, and abstract names', () => {
    expect(() => new UnixDatagramServer({ path: '/tmp/x', maxPacketSize: 65_535 })).toThrow(InvalidOptionError)
    expect(() => new UnixDatagramServer({ path: '\0abstract' })).toThrow(InvalidOptionError)
  })
})
