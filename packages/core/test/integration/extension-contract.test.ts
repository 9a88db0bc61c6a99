// The optional members of the public Server contract that serve() uses:
// observe() (drops and the close reach the one serve() that consumes a
// server), and what serve() does for a server without it.
import { DrainTimeoutError, OverflowError, type Server, type ServerObserver, type StreamRequest, sequential } from '@socketserver/core'
import { ConcurrencyProbe, connect, describeSourceCompliance, Gate, listen, listenDatagram, serveInBackground } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'
import { foreignServer } from './foreign-server.js'

/** A server of another library around one of ours; observe() forwarded when asked to. */
const wrap = (inner: Server<StreamRequest>, forwardObserve: boolean): Server<StreamRequest> =>
  foreignServer(inner, { observe: forwardObserve })

describeSourceCompliance('a wrapper around TCPServer written from the public contract, observe() forwarded', async () =>
  wrap(await listen('tcp4'), true),
)
describeSourceCompliance('a wrapper around UnixStreamServer written from the public contract, without observe()', async () =>
  wrap(await listen('unix'), false),
)

describe('Server.observe()', () => {
  test('tells each observer of a drop and, once, of the close; the returned function stops it', async () => {
    const server = await listen('tcp4', { maxPendingConnections: 0 })
    const seen: string[] = []
    const observer: ServerObserver = {
      dropped: (error) => seen.push(`dropped ${error.name}`),
      closed: () => seen.push('closed'),
    }
    const unobserve = server.observe(observer)
    const other = server.observe({ dropped: () => seen.push('other dropped'), closed: () => seen.push('other closed') })
    // Nobody pulls and the queue holds none: the connection is refused.
    const refused = await connect(server.address)
    await refused.waitForEnd()
    await vi.waitFor(() => expect(seen).toEqual(['dropped OverflowError', 'other dropped']))
    other()
    await Promise.all([server.close(), server.close()])
    expect(seen).toEqual(['dropped OverflowError', 'other dropped', 'closed'])
    unobserve()
    refused.destroy()
  })

  test('a datagram server tells of stopAccepting() as of a close, once', async () => {
    const server = await listenDatagram('udp4')
    let closed = 0
    server.observe({ dropped: () => {}, closed: () => closed++ })
    server.stopAccepting()
    await server.close()
    expect(closed).toBe(1)
  })
})

describe('serve() and a server of another library', () => {
  test.each([
    [true, 'observe() forwarded'],
    [false, 'no observe()'],
  ])(
    'closed by other means, it stops serving as on abort: the running request is told and serve() resolves (%s: %s)',
    async (forwarded) => {
      const inner = await listen('tcp4')
      const running = new Gate()
      const serving = serveInBackground(wrap(inner, forwarded), async (request: StreamRequest) => {
        running.open()
        await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
        request.socket.end('bye\n')
      })
      const client = await connect(inner.address)
      await running.wait()
      // Without observe(), the end of iteration (the policy's pull for the
      // next request) is the news.
      await inner.close()
      expect(await client.readLine()).toBe('bye\n')
      await serving.done
      expect(serving.errors).toEqual([])
      client.destroy()
    },
  )

  test('drops reach handleError through a forwarded observe()', async () => {
    const inner = await listen('tcp4', { maxPendingConnections: 0 })
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(
      wrap(inner, true),
      async (request: StreamRequest) => {
        probe.enter()
        await gate.wait()
        request.socket.end()
      },
      { policy: sequential() },
    )
    const first = await connect(inner.address)
    await probe.waitUntil((current) => current === 1)
    const refused = await connect(inner.address)
    await refused.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(OverflowError)
    gate.open()
    await first.waitForEnd()
    first.destroy()
    refused.destroy()
  })

  test('a request that ignores the stop is aborted at the drain deadline, with or without observe()', async () => {
    for (const forwarded of [true, false]) {
      const inner = await listen('tcp4')
      const running = new Gate()
      let reason: unknown
      const serving = serveInBackground(
        wrap(inner, forwarded),
        async (request: StreamRequest) => {
          running.open()
          await new Promise((resolve) => request.signal.addEventListener('abort', resolve, { once: true }))
          reason = request.signal.reason
        },
        { drainTimeoutMs: 50 },
      )
      const client = await connect(inner.address)
      await running.wait()
      await serving.stop()
      expect(reason).toBeInstanceOf(DrainTimeoutError)
      client.destroy()
    }
  })
})
