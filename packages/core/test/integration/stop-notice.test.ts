import { setTimeout as sleep } from 'node:timers/promises'
import { type DatagramRequest, HandlerError, pooled, type Server, ServerStoppingError, type StreamRequest, serve } from '@socketserver/core'
import {
  connect,
  describeDatagramSourceCompliance,
  Gate,
  listen,
  listenDatagram,
  openDatagramClient,
  serveInBackground,
  until,
} from '@socketserver/testing'
import { describe, expect, test } from 'vitest'
import { foreignServer } from './foreign-server.js'

/** Echoes everything until the client ends its side (or the stop ends the idle read). */
const echo = (request: StreamRequest): Promise<void> => request.sink(request.source)

/** Upper-cases each chunk it reads, one read at a time, until the end of input. */
async function upperChunks(request: StreamRequest): Promise<void> {
  for await (const chunk of request.source) request.socket.write(Buffer.from(chunk).toString().toUpperCase())
}

describe('stopping with long-lived connections', () => {
  test.each(['tcp4', 'unix'] as const)(
    '100 idle %s connections end at once on stop: serve() resolves without a drain timeout',
    async (transport) => {
      for (const [name, handler] of [
        ['forwarding echo', echo],
        ['reading loop', upperChunks],
      ] as const) {
        const server = await listen(transport)
        const started: StreamRequest[] = []
        // A drain deadline no test reaches: serve() ends because the reads end, not by force.
        const serving = serveInBackground(
          server,
          (request) => {
            started.push(request)
            return handler(request)
          },
          { policy: pooled({ concurrency: 200 }), drainTimeoutMs: 600_000 },
        )
        const clients = await Promise.all(Array.from({ length: 100 }, () => connect(server.address)))
        // Every connection has had a reply, so every handler waits for its client's next bytes.
        await Promise.all(clients.map((client) => client.send('ping\n')))
        for (const client of clients) expect(await client.readLine()).toBe(name === 'forwarding echo' ? 'ping\n' : 'PING\n')
        await serving.stop()
        expect(serving.errors, name).toEqual([])
        expect(started.every((request) => request.stopping.aborted && request.stopping.reason instanceof ServerStoppingError)).toBe(true)
        // The clients see their connections end (FIN, not a reset).
        await Promise.all(clients.map((client) => client.waitForEnd()))
        expect(clients.every((client) => client.error === undefined)).toBe(true)
        for (const client of clients) client.destroy()
      }
    },
  )

  test('a connection that has sent nothing when the stop begins gets a moment for its first request: one sent after the stop is served', async () => {
    const server = await listen('tcp4')
    const started: StreamRequest[] = []
    const serving = serveInBackground(
      server,
      (request) => {
        started.push(request)
        return echo(request)
      },
      { drainTimeoutMs: 600_000 },
    )
    const fresh = await connect(server.address)
    const silent = await connect(server.address)
    await until(() => started.length === 2, 10_000, 'both connections to be served')
    const stopped = serving.stop()
    await until(() => started.every((request) => request.stopping.aborted), 10_000, 'the stop notice')
    // Its client's first request, after the stop began: served, then the connection ends.
    await fresh.send('late\n')
    expect(await fresh.readLine()).toBe('late\n')
    await fresh.waitForEnd()
    // One that says nothing ends too, after the grace, long before the drain deadline.
    await silent.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
  })

  test('a connection in the middle of a request finishes it: its whole reply is sent, then it ends', async () => {
    const server = await listen('tcp4')
    const gate = new Gate()
    const reading = new Gate()
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        for await (const chunk of request.source) {
          // The request is being served when the stop comes.
          reading.open()
          await gate.wait()
          request.socket.write(Buffer.alloc(1 << 20, Buffer.from(chunk)[0]))
        }
      },
      { drainTimeoutMs: 600_000 },
    )
    const busy = await connect(server.address)
    const idle = await connect(server.address)
    await busy.send('x')
    await reading.wait()
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    // The idle client's connection ends while the busy one is still working.
    await idle.waitForEnd()
    gate.open()
    const reply = await busy.readBytes(1 << 20)
    expect(reply.every((byte) => byte === 0x78)).toBe(true)
    await busy.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    busy.destroy()
    idle.destroy()
  })

  test('bytes already received when the stop begins are still read; the read after them ends', async () => {
    const server = await listen('tcp4')
    const firstRead = new Gate()
    const release = new Gate()
    let connection: StreamRequest | undefined
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        connection = request
        for await (const chunk of request.source) {
          request.socket.write(Buffer.from(chunk).toString().toUpperCase())
          firstRead.open()
          // Busy with the first message while the second arrives and the stop begins.
          await release.wait()
        }
      },
      { drainTimeoutMs: 600_000 },
    )
    const client = await connect(server.address)
    await client.send('one\n')
    expect(await client.readLine()).toBe('ONE\n')
    await firstRead.wait()
    await client.send('two\n')
    // The server has received the second message (it is queued for the handler's next read).
    await until(() => (connection?.socket.bytesRead ?? 0) >= 8)
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    release.open()
    expect(await client.readLine()).toBe('TWO\n')
    await client.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    client.destroy()
  })

  test('request.stopping aborts when the stop begins; a handler that is not reading uses it to end', async () => {
    const server = await listen('tcp4')
    const controller = new AbortController()
    const writing = new Gate()
    let seen: unknown
    const done = serve(
      server,
      async (request) => {
        // A chargen-like handler: it writes forever and never reads.
        writing.open()
        while (!request.stopping.aborted) {
          if (!request.socket.write('line\n')) await new Promise((resolve) => request.socket.once('drain', resolve))
          await new Promise((resolve) => setImmediate(resolve))
        }
        seen = request.stopping.reason
        request.socket.write('goodbye\n')
      },
      { signal: controller.signal, drainTimeoutMs: 600_000, handleError: (error) => expect.fail(String(error)) },
    )
    const client = await connect(server.address)
    await writing.wait()
    await until(() => client.buffered.length > 0)
    controller.abort()
    await done
    await client.waitForEnd()
    expect(client.buffered.toString().endsWith('goodbye\n')).toBe(true)
    expect(seen).toBeInstanceOf(ServerStoppingError)
    client.destroy()
  })

  test('a request that starts after the stop began is told at its start', async () => {
    const server = await listen('tcp4')
    const controller = new AbortController()
    const verifying = new Gate()
    const release = new Gate()
    let stoppedAtStart: boolean | undefined
    const done = serve(
      server,
      (request) => {
        stoppedAtStart = request.stopping.aborted
        return echo(request)
      },
      {
        signal: controller.signal,
        drainTimeoutMs: 600_000,
        verifyRequest: async () => {
          verifying.open()
          await release.wait()
          return true
        },
      },
    )
    const client = await connect(server.address)
    await verifying.wait()
    controller.abort()
    release.open()
    await done
    expect(stoppedAtStart).toBe(true)
    await client.waitForEnd()
    client.destroy()
  })
})

describe('stopping: nothing received is lost, and only the stop is ended', () => {
  test('bytes that reached the server before the stop are served though the handler had not read yet', async () => {
    const server = await listen('tcp4')
    const started = new Gate()
    const release = new Gate()
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        started.open()
        // Busy elsewhere (a database call) while the client's request arrives and the stop begins.
        await release.wait()
        await upperChunks(request)
      },
      { drainTimeoutMs: 600_000 },
    )
    const client = await connect(server.address)
    await started.wait()
    await client.send('sent before the stop\n')
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    release.open()
    expect(await client.readLine()).toBe('SENT BEFORE THE STOP\n')
    await client.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    client.destroy()
  })

  test('a large upload in the socket buffers is echoed whole when the stop begins while forwarding waits for the client to read', async () => {
    const server = await listen('tcp4')
    let connection: StreamRequest | undefined
    const serving = serveInBackground(
      server,
      (request: StreamRequest) => {
        connection = request
        return echo(request)
      },
      { drainTimeoutMs: 600_000 },
    )
    const client = await connect(server.address)
    const upload = Buffer.alloc(32 << 20, 0x62)
    // The client reads nothing yet: the echo stalls on its full buffers with the upload still arriving.
    client.socket.pause()
    void client.send(upload)
    await until(() => (connection?.socket.bytesRead ?? 0) > 0 && (connection?.socket.writableLength ?? 0) > 0)
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    client.socket.resume()
    await client.waitForEnd()
    expect(client.buffered.length).toBe(upload.length)
    await stopped
    expect(serving.errors).toEqual([])
    client.destroy()
  })

  test('a handler that leaves on the stop notice (a wait given the signal, throwIfAborted) reports no error', async () => {
    const server = await listen('tcp4')
    let waiting = 0
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        waiting++
        if (waiting === 1) {
          // Rejects with an AbortError whose cause is the stop's reason.
          await sleep(600_000, undefined, { signal: request.stopping })
        } else {
          await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
          request.stopping.throwIfAborted()
        }
      },
      { drainTimeoutMs: 600_000, policy: pooled({ concurrency: 2 }) },
    )
    const clients = [await connect(server.address), await connect(server.address)]
    await until(() => waiting === 2)
    await serving.stop()
    expect(serving.errors).toEqual([])
    for (const client of clients) {
      await client.waitForEnd()
      client.destroy()
    }
  })

  test('closing the server (not the signal) stops serving the same way: running requests are told and idle ones end', async () => {
    const server = await listen('tcp4')
    const requests: StreamRequest[] = []
    const done = serve(
      server,
      (request) => {
        requests.push(request)
        return echo(request)
      },
      { drainTimeoutMs: 600_000, policy: pooled({ concurrency: 10 }) },
    )
    const clients = await Promise.all(Array.from({ length: 3 }, () => connect(server.address)))
    await until(() => requests.length === 3)
    await server.close()
    await done
    expect(requests.every((request) => request.stopping.aborted)).toBe(true)
    await Promise.all(clients.map((client) => client.waitForEnd()))
    for (const client of clients) client.destroy()
  })

  test('a handler error that only carries a broken-connection code (a backend that reset) is the handler failing, not the client leaving', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, async () => {
      throw new Error('the database went away', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })
    })
    const client = await connect(server.address)
    await client.waitForEnd()
    await until(() => serving.errors.length === 1)
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
    client.destroy()
  })
})

describe('stop() and stopping on every kind of request', () => {
  test('a request told to stop by your own loop keeps the first reason; a datagram handler hears the stop too', async () => {
    const server = await listen('tcp4')
    const client = await connect(server.address)
    for await (const request of server) {
      request.stop('first')
      request.stop('second')
      expect(request.stopping.aborted).toBe(true)
      expect(request.stopping.reason).toBe('first')
      // Its idle read ends as on serve()'s stop.
      for await (const _ of request.source) expect.fail('no bytes were sent')
      await request.close()
      break
    }
    await client.waitForEnd()
    client.destroy()
    await server.close()

    const udp = await listenDatagram('udp4')
    const waiting = new Gate()
    const serving = serveInBackground(udp, async (request: DatagramRequest) => {
      waiting.open()
      await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
      await request.reply(`bye: ${(request.stopping.reason as Error).name}`)
    })
    const sender = await openDatagramClient(udp.address)
    await sender.send('hello')
    await waiting.wait()
    const stopped = serving.stop()
    expect((await sender.receive()).toString()).toBe('bye: ServerStoppingError')
    await stopped
    expect(serving.errors).toEqual([])
    sender.close()
  })
})

describe('a server of another library, written from the public contract', () => {
  /** Wraps one of our servers with nothing but the public Server contract, forwarding stopAccepting() when asked to. */
  const wrap = (inner: Server<DatagramRequest>, forwardStopAccepting: boolean): Server<DatagramRequest> =>
    foreignServer(inner, { stopAccepting: forwardStopAccepting })

  describeDatagramSourceCompliance('a wrapper around UDPServer that forwards stopAccepting()', async () =>
    wrap(await listenDatagram('udp4'), true),
  )

  test.each([
    [true, 'the reply goes out during the drain'],
    [false, 'the socket closes at once and the reply fails'],
  ])('with stopAccepting() forwarded: %s (%s)', async (forwarded) => {
    const inner = await listenDatagram('udp4')
    const waiting = new Gate()
    const outcomes: unknown[] = []
    const serving = serveInBackground(wrap(inner, forwarded), async (request: DatagramRequest) => {
      waiting.open()
      await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
      await request.reply('bye').then(
        () => outcomes.push('sent'),
        (error: unknown) => outcomes.push(error),
      )
    })
    const sender = await openDatagramClient(inner.address)
    await sender.send('hello')
    await waiting.wait()
    await serving.stop()
    expect(outcomes).toHaveLength(1)
    if (forwarded) {
      expect(outcomes[0]).toBe('sent')
      expect((await sender.receive()).toString()).toBe('bye')
    } else {
      expect(outcomes[0]).toBeInstanceOf(Error)
    }
    sender.close()
  })
})
