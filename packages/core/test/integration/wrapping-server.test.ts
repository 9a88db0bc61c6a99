import { requestFacts, type Server, type StreamRequest, sequential, WrappingServer } from '@socketserver/core'
import { connect, describeSourceCompliance, Gate, listen, serveInBackground } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

/** A wrapper whose preparation the test controls: it waits for `gate`, then refuses what `refuse` says. */
class Gated extends WrappingServer<StreamRequest, StreamRequest> {
  readonly gate = new Gate()
  readonly reported: unknown[] = []
  refuse: (request: StreamRequest) => Error | undefined = () => undefined
  quiet = false
  prepared = 0

  constructor(server: Server<StreamRequest>, limit = 1_024) {
    super(server, limit)
  }

  get inPreparation(): number {
    return this.preparing
  }

  get ready(): number {
    return this.waiting
  }

  protected override async prepare(request: StreamRequest): Promise<StreamRequest> {
    this.prepared++
    await this.gate.wait()
    const refusal = this.refuse(request)
    if (refusal !== undefined) throw refusal
    return request
  }

  protected override refused(_request: StreamRequest, error: unknown): boolean {
    this.reported.push(error)
    return !this.quiet
  }
}

/** A wrapper that passes every request through at once. */
class PassThrough extends WrappingServer<StreamRequest, StreamRequest> {
  constructor(server: Server<StreamRequest>) {
    super(server, 64)
  }

  protected override async prepare(request: StreamRequest): Promise<StreamRequest> {
    return request
  }
}

describeSourceCompliance('WrappingServer passing requests through, over TCPServer', async () => new PassThrough(await listen('tcp4')))

describe('WrappingServer', () => {
  test('prepares requests off the consumer: at most limit are prepared or wait, the rest stay with the wrapped server', async () => {
    const inner = await listen('tcp4')
    const server = new Gated(inner, 2)
    const iterator = server[Symbol.asyncIterator]()
    const clients = await Promise.all([1, 2, 3].map(() => connect(inner.address)))
    await vi.waitFor(() => expect(server.inPreparation).toBe(2))
    expect(server.prepared).toBe(2)
    server.gate.open()
    const first = await iterator.next()
    expect(first.done).toBe(false)
    await vi.waitFor(() => expect(server.prepared).toBe(3))
    for (const client of clients) client.destroy()
    await server.close()
  })

  test('a full queue of prepared requests does not stop it for good: once a consumer takes them, it takes more from the wrapped server', async () => {
    const inner = await listen('tcp4')
    const server = new Gated(inner, 2)
    server.gate.open()
    const release = new Gate()
    let served = 0
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        // The first one holds the only slot until all six wait: the queue fills.
        if (served++ === 0) await release.wait()
        request.socket.end('served\n')
      },
      { policy: sequential() },
    )
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect(inner.address)))
    await vi.waitFor(() => expect(server.ready).toBe(2))
    release.open()
    for (const client of clients) expect(await client.readLine()).toBe('served\n')
    expect(served).toBe(6)
    for (const client of clients) client.destroy()
    await serving.stop()
  })

  test('a refusal aborts the request and reaches handleError, unless refused() says it is noise', async () => {
    const inner = await listen('tcp4')
    const server = new Gated(inner)
    server.gate.open()
    server.refuse = () => new Error('not you')
    const serving = serveInBackground(server, (request: StreamRequest) => request.socket.end('served\n'))
    const loud = await connect(inner.address)
    await loud.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect((serving.errors[0] as Error).message).toBe('not you')
    server.quiet = true
    const quiet = await connect(inner.address)
    await quiet.waitForEnd()
    await vi.waitFor(() => expect(server.reported).toHaveLength(2))
    expect(serving.errors).toHaveLength(1)
    server.refuse = () => undefined
    const welcome = await connect(inner.address)
    expect(await welcome.readLine()).toBe('served\n')
    for (const client of [loud, quiet, welcome]) client.destroy()
    await serving.stop()
  })

  test('closing aborts what is being prepared or waits (counted), closes the wrapped server, and tells observers once', async () => {
    const inner = await listen('tcp4')
    const server = new Gated(inner)
    let closed = 0
    server.observe({ dropped: () => {}, closed: () => closed++ })
    server[Symbol.asyncIterator]()
    const client = await connect(inner.address)
    await vi.waitFor(() => expect(server.inPreparation).toBe(1))
    await Promise.all([server.close(), server.close()])
    expect(server.droppedOnClose).toBe(1)
    expect(inner.closed).toBe(true)
    expect(server.closed).toBe(true)
    expect(closed).toBe(1)
    await client.waitForEnd()
    client.destroy()
  })

  test("the wrapped server closed by other means is the wrapper's close: serve() stops, the running request is told", async () => {
    const inner = await listen('tcp4')
    const server = new Gated(inner)
    server.gate.open()
    const running = new Gate()
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      running.open()
      await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
      request.socket.end('bye\n')
    })
    const client = await connect(inner.address)
    await running.wait()
    await inner.close()
    expect(await client.readLine()).toBe('bye\n')
    await serving.done
    expect(serving.errors).toEqual([])
    client.destroy()
  })
})

describe('requestFacts()', () => {
  test('gives what was added to a connection, not the connection itself; undefined when nothing was', async () => {
    const server = await listen('tcp4')
    const client = await connect(server.address)
    const { value: request } = await server[Symbol.asyncIterator]().next()
    if (request === undefined) throw new Error('Cannot take a request: the server ended')
    expect(requestFacts(request)).toBeUndefined()
    Object.defineProperty(request, 'clientAddress', { value: { transport: 'unix', path: '/relayed' }, enumerable: true })
    Object.assign(request, { proxyAddress: { transport: 'unix', path: '/proxy' }, proxy: { version: 2 } })
    expect(requestFacts(request)).toEqual({ proxyAddress: { transport: 'unix', path: '/proxy' }, proxy: { version: 2 } })
    client.destroy()
    await request.close().catch(() => {})
    await server.close()
  })
})
