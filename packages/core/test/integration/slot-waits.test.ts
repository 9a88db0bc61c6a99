import diagnosticsChannel from 'node:diagnostics_channel'
import {
  type DatagramRequest,
  DEFAULT_SLOW_WAIT_MS,
  InvalidOptionError,
  pooled,
  type Request,
  type Server,
  type StreamServer,
  TCPServer,
  UDPServer,
  UnixDatagramServer,
  UnixStreamServer,
  WaitTimeoutError,
} from '@socketserver/core'
import {
  ConcurrencyProbe,
  connect,
  Gate,
  type LoopbackClient,
  listen,
  listenDatagram,
  openDatagramClient,
  registerCleanup,
  serveInBackground,
  tempSocketPath,
  until,
} from '@socketserver/testing'
import { afterEach, describe, expect, test, vi } from 'vitest'

/** What `socketserver:server:wait` publishes. */
interface WaitMessage {
  server: Server<Request>
  request: Request
  waitedMs: number
  waiting: number
}

/** Collects one channel's messages about `server`, in order, until the test ends. */
function collect<T extends { server: unknown }>(name: string, server: unknown, into: Array<{ channel: string; message: T }> = []) {
  const onMessage = (message: unknown): void => {
    if ((message as T).server === server) into.push({ channel: name, message: message as T })
  }
  diagnosticsChannel.subscribe(name, onMessage)
  registerCleanup(() => diagnosticsChannel.unsubscribe(name, onMessage))
  return into
}

/** Lines written to stderr from now on that start with `socketserver: a ` (the slow-wait line), stderr itself silenced for them. */
function captureSlowWaitLines(): string[] {
  const lines: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk)
    if (text.startsWith('socketserver: a ')) {
      lines.push(text)
      return true
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stderr.write)
  return lines
}

afterEach(() => vi.restoreAllMocks())

/** A handler that stays inside the probe until `gate` opens: a persistent client holding its slot. */
function heldBy(gate: Gate, probe: ConcurrencyProbe) {
  return async (): Promise<void> => {
    probe.enter()
    try {
      await gate.wait(AbortSignal.timeout(10_000))
    } finally {
      probe.exit()
    }
  }
}

/** Two clients holding both slots of `pooled({ concurrency: 2 })`, then a third that must wait. */
async function fillTwoSlotsAndQueueOne(server: StreamServer, probe: ConcurrencyProbe): Promise<LoopbackClient> {
  await connect(server.address)
  await connect(server.address)
  await probe.waitUntil((inside) => inside === 2)
  const third = await connect(server.address)
  // received, not waiting: with maxWaitMs the wait may already be over (a slow machine).
  await until(() => server.stats.received === 3, 5_000, 'the third connection accepted')
  return third
}

describe('connections waiting for a free policy slot (#16)', () => {
  test('server.stats counts the connection waiting for a slot of pooled({ concurrency: 2 }), and it is served once a slot frees', async () => {
    const server = await listen('tcp4', { slowWaitMs: Number.POSITIVE_INFINITY })
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    await fillTwoSlotsAndQueueOne(server, probe)
    expect(server.stats).toEqual({ received: 3, overflowed: 0, waiting: 1, slowWaits: 0, waitTimeouts: 0 })
    expect(server.pendingConnections).toBe(1)
    gate.open()
    await probe.waitUntil((inside, entered) => inside === 0 && entered === 3)
    expect(probe.peak).toBe(2)
    expect(server.stats.waiting).toBe(0)
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('socketserver:server:wait fires once for the waiting connection, while it still waits, with the server, the request and how long it waited', async () => {
    const slowWaitMs = 50
    const server = await listen('tcp4', { slowWaitMs })
    const waits = collect<WaitMessage>('socketserver:server:wait', server)
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    const third = await fillTwoSlotsAndQueueOne(server, probe)
    await until(() => waits.length === 1, 5_000, 'the wait event')
    const { message } = waits[0] as { message: WaitMessage }
    expect(message.server).toBe(server)
    expect(message.request.clientAddress).toMatchObject({ host: '127.0.0.1', port: third.socket.localPort })
    expect(message.waitedMs).toBeGreaterThanOrEqual(slowWaitMs)
    expect(message.waiting).toBe(1)
    // Published while it waited: nothing had taken it yet.
    expect(probe.entered).toBe(2)
    expect(server.stats).toMatchObject({ waiting: 1, slowWaits: 1 })
    gate.open()
    await probe.waitUntil((inside, entered) => inside === 0 && entered === 3)
    expect(waits).toHaveLength(1)
    expect(server.stats).toMatchObject({ waiting: 0, slowWaits: 1, waitTimeouts: 0 })
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('a request taken before slowWaitMs is never reported', async () => {
    const server = await listen('unix', { slowWaitMs: 60_000 })
    const waits = collect<WaitMessage>('socketserver:server:wait', server)
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    await fillTwoSlotsAndQueueOne(server, probe)
    gate.open()
    await probe.waitUntil((inside, entered) => inside === 0 && entered === 3)
    expect(waits).toEqual([])
    expect(server.stats.slowWaits).toBe(0)
    await serving.stop()
  })

  test('the first slow wait of a server prints one line on stderr, naming the client, the wait and how many wait; later ones print nothing', async () => {
    const lines = captureSlowWaitLines()
    const server = await listen('tcp4', { slowWaitMs: 20 })
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    const third = await fillTwoSlotsAndQueueOne(server, probe)
    await until(() => server.stats.slowWaits === 1, 5_000, 'the first slow wait')
    const fourth = await connect(server.address)
    await until(() => server.stats.slowWaits === 2, 5_000, 'the second slow wait')
    expect(fourth.ended).toBe(false)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      new RegExp(
        `^socketserver: a connection from 127\\.0\\.0\\.1:${third.socket.localPort} has waited \\d+ ms for a free slot; 1 is waiting \\(every slot of the policy busy, or a slow verifyRequest: raise pooled\\(\\{ concurrency \\}\\) or maxChildren, or set maxWaitMs; printed once per server, see slowWaitMs\\)\\n$`,
      ),
    )
    gate.open()
    await probe.waitUntil((inside, entered) => inside === 0 && entered === 4)
    await serving.stop()
    expect(lines).toHaveLength(1)
  })

  test('with a subscriber to socketserver:server:wait the line is not printed: the subscriber took the report over', async () => {
    const lines = captureSlowWaitLines()
    const server = await listen('tcp4', { slowWaitMs: 20 })
    const waits = collect<WaitMessage>('socketserver:server:wait', server)
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    await fillTwoSlotsAndQueueOne(server, probe)
    await until(() => waits.length === 1, 5_000, 'the wait event')
    gate.open()
    await probe.waitUntil((inside, entered) => inside === 0 && entered === 3)
    await serving.stop()
    expect(lines).toEqual([])
  })

  test('with maxWaitMs the waiting connection is refused: closed unserved, a WaitTimeoutError for handleError, counted', async () => {
    const server = await listen('tcp4', { slowWaitMs: Number.POSITIVE_INFINITY, maxWaitMs: 50 })
    const drops = collect<{ server: unknown; error: unknown }>('socketserver:server:drop', server)
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    const third = await fillTwoSlotsAndQueueOne(server, probe)
    await third.waitForEnd()
    await until(() => serving.errors.length === 1, 5_000, 'the refusal reaching handleError')
    const [error] = serving.errors
    expect(error).toBeInstanceOf(WaitTimeoutError)
    expect(error).toMatchObject({
      name: 'WaitTimeoutError',
      code: 'SS_ERR_WAIT_TIMEOUT',
      maxWaitMs: 50,
      clientAddress: { host: '127.0.0.1', port: third.socket.localPort },
    })
    expect((error as Error).message).toBe(
      `Cannot serve the request from 127.0.0.1:${third.socket.localPort}: it waited maxWaitMs (50 ms) for a free slot, so it was refused unserved`,
    )
    expect(drops.map(({ message }) => message.error)).toEqual([error])
    expect(server.stats).toEqual({ received: 3, overflowed: 0, waiting: 0, slowWaits: 0, waitTimeouts: 1 })
    gate.open()
    await probe.waitUntil((inside) => inside === 0)
    // The refused connection never reached the handler.
    expect(probe.entered).toBe(2)
    await serving.stop()
    expect(serving.errors).toHaveLength(1)
  })

  test('a connection that waits past slowWaitMs and then maxWaitMs is reported first, then refused', async () => {
    const server = await listen('unix', { slowWaitMs: 20, maxWaitMs: 60 })
    const events: Array<{ channel: string; message: { server: unknown } }> = []
    collect('socketserver:server:wait', server, events)
    collect('socketserver:server:drop', server, events)
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(server, heldBy(gate, probe), { policy: pooled({ concurrency: 2 }) })
    const third = await fillTwoSlotsAndQueueOne(server, probe)
    await third.waitForEnd()
    await until(() => events.length === 2, 5_000, 'the wait and the refusal')
    expect(events.map(({ channel }) => channel)).toEqual(['socketserver:server:wait', 'socketserver:server:drop'])
    expect(events[1]?.message).toMatchObject({ error: expect.any(WaitTimeoutError) })
    expect(server.stats).toMatchObject({ waiting: 0, slowWaits: 1, waitTimeouts: 1 })
    gate.open()
    await serving.stop()
  })

  test('datagram servers: a datagram waiting for a slot is counted, reported, and refused past maxWaitMs', async () => {
    const server = await listenDatagram('udp4', { slowWaitMs: 20, maxWaitMs: 60 })
    const events: Array<{ channel: string; message: { server: unknown; request?: DatagramRequest } }> = []
    collect('socketserver:server:wait', server, events)
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const handler = async (request: DatagramRequest): Promise<void> => {
      await heldBy(gate, probe)()
      await request.reply(request.data)
    }
    const serving = serveInBackground(server, handler, { policy: pooled({ concurrency: 1 }) })
    const client = await openDatagramClient(server.address)
    registerCleanup(() => client.close())
    await client.send('first')
    await probe.waitUntil((inside) => inside === 1)
    await client.send('second')
    await until(() => events.length === 1, 5_000, 'the wait event')
    expect(Buffer.from(events[0]?.message.request?.data ?? []).toString()).toBe('second')
    await until(() => serving.errors.length === 1, 5_000, 'the refusal reaching handleError')
    expect(serving.errors[0]).toBeInstanceOf(WaitTimeoutError)
    expect(server.stats).toMatchObject({ received: 2, waiting: 0, slowWaits: 1, waitTimeouts: 1 })
    gate.open()
    expect((await client.receive()).toString()).toBe('first')
    await serving.stop()
    expect(probe.entered).toBe(1)
    expect(client.pending).toBe(0)
  })
})

describe('slowWaitMs and maxWaitMs options', () => {
  test('default slowWaitMs is one second', () => {
    expect(DEFAULT_SLOW_WAIT_MS).toBe(1_000)
  })

  const makers: Array<[string, (options: { slowWaitMs?: number; maxWaitMs?: number }) => unknown]> = [
    ['TCPServer', (options) => new TCPServer(options)],
    ['UnixStreamServer', (options) => new UnixStreamServer({ ...options, path: tempSocketPath() })],
    ['UDPServer', (options) => new UDPServer(options)],
    ['UnixDatagramServer', (options) => new UnixDatagramServer({ ...options, path: tempSocketPath() })],
  ]

  describe.each(makers)('%s', (_, make) => {
    test.each([0, -1, 0.5, Number.NaN, 2 ** 31, Number.NEGATIVE_INFINITY, '100' as unknown as number])(
      'rejects slowWaitMs and maxWaitMs %s with InvalidOptionError',
      (value) => {
        for (const option of ['slowWaitMs', 'maxWaitMs'] as const) {
          let thrown: unknown
          try {
            make({ [option]: value })
          } catch (error) {
            thrown = error
          }
          expect(thrown).toBeInstanceOf(InvalidOptionError)
          expect(thrown).toMatchObject({ option, code: 'SS_ERR_INVALID_OPTION' })
        }
      },
    )

    test('accepts milliseconds from 1 and Infinity', () => {
      expect(() => make({ slowWaitMs: 1, maxWaitMs: 2 ** 31 - 1 })).not.toThrow()
      expect(() => make({ slowWaitMs: Number.POSITIVE_INFINITY, maxWaitMs: Number.POSITIVE_INFINITY })).not.toThrow()
    })
  })
})
