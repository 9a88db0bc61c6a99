import {
  DrainTimeoutError,
  forked,
  HandlerError,
  handleRequest,
  OverflowError,
  pooled,
  RequestTimeoutError,
  type Server,
  type StreamRequest,
  sequential,
  serve,
  TCPServer,
} from '@socketserver/core'
import { ConcurrencyProbe, connect, Gate, listen, serveInBackground, until } from '@socketserver/testing'
import { pipe } from 'it-pipe'
import { describe, expect, test, vi } from 'vitest'

/** Echoes everything until the client ends its side. */
const echo = (request: StreamRequest): Promise<void> => request.sink(request.source)

/** Replies to the first line with its upper-case form. */
async function upperLine(request: StreamRequest): Promise<void> {
  let line = ''
  for await (const chunk of request.source) {
    line += Buffer.from(chunk).toString()
    if (line.includes('\n')) break
  }
  request.socket.write(line.toUpperCase())
}

describe('serve()', () => {
  test('runs the hooks in Python order: verify, handle, then shutdown and close of the request', async () => {
    const events: string[] = []
    const server = await listen('tcp4')
    const serving = serveInBackground(
      server,
      async (request) => {
        events.push('handle')
        await upperLine(request)
        request.socket.once('finish', () => events.push('shutdown'))
        request.socket.once('close', () => events.push('close'))
      },
      {
        verifyRequest: () => {
          events.push('verify')
          return true
        },
      },
    )
    const client = await connect(server.address)
    await client.send('hello\n')
    expect(await client.readLine()).toBe('HELLO\n')
    await client.waitForEnd()
    client.destroy()
    await vi.waitFor(() => expect(events).toEqual(['verify', 'handle', 'shutdown', 'close']))
    await serving.stop()
  })

  test.each(['tcp4', 'tcp6', 'unix'] as const)('echoes over %s with a duplex handler built with it-pipe', async (transport) => {
    const server = await listen(transport)
    serveInBackground(server, (request) =>
      pipe(
        request,
        async function* (source) {
          for await (const chunk of source) yield Buffer.from(Buffer.from(chunk).toString().toUpperCase())
        },
        request,
      ),
    )
    const client = await connect(server.address)
    await client.send('abc\n')
    expect(await client.readLine()).toBe('ABC\n')
    client.end()
    await client.waitForEnd()
  })

  test('a client that half-closes gets the whole reply, then EOF', async () => {
    const server = await listen('tcp4')
    serveInBackground(server, echo)
    const client = await connect(server.address)
    await client.send('first\nsecond')
    client.end()
    expect((await client.readAll()).toString()).toBe('first\nsecond')
  })

  test('when verifyRequest returns false the handler is never run, the client sees EOF, and serving goes on', async () => {
    const handled: string[] = []
    const server = await listen('tcp4')
    let calls = 0
    serveInBackground(
      server,
      async (request) => {
        handled.push('handled')
        await upperLine(request)
      },
      { verifyRequest: () => ++calls > 1 },
    )
    const rejected = await connect(server.address)
    await rejected.waitForEnd()
    expect(rejected.buffered.length).toBe(0)
    const accepted = await connect(server.address)
    await accepted.send('ok\n')
    expect(await accepted.readLine()).toBe('OK\n')
    expect(handled).toEqual(['handled'])
  })

  test('a handler error reaches handleError as a HandlerError naming the client; the connection closes; serving goes on', async () => {
    const server = await listen('tcp4')
    let first = true
    const serving = serveInBackground(server, async (request) => {
      if (first) {
        first = false
        throw new Error('boom')
      }
      await upperLine(request)
    })
    const failing = await connect(server.address)
    await failing.waitForEnd()
    const next = await connect(server.address)
    await next.send('still here\n')
    expect(await next.readLine()).toBe('STILL HERE\n')
    expect(serving.errors).toHaveLength(1)
    const error = serving.errors[0] as HandlerError
    expect(error).toBeInstanceOf(HandlerError)
    expect(error.code).toBe('SS_ERR_HANDLER')
    expect((error.cause as Error).message).toBe('boom')
    expect(error.clientAddress).toMatchObject({ transport: 'tcp', host: '127.0.0.1' })
  })

  test('the default handleError writes one line to stderr with the client address', async () => {
    const lines: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk))
      return true
    })
    try {
      const server = await listen('tcp4')
      const controller = new AbortController()
      const done = serve(
        server,
        () => {
          throw new Error('kaput')
        },
        { signal: controller.signal },
      )
      const client = await connect(server.address)
      await client.waitForEnd()
      await vi.waitFor(() => expect(lines).toHaveLength(1))
      controller.abort()
      await done
    } finally {
      spy.mockRestore()
    }
    expect(lines[0]).toMatch(/^socketserver: HandlerError: Cannot handle the request from 127\.0\.0\.1:\d+: Error: kaput\n$/)
  })

  test('timeoutMs closes an idle client with RequestTimeoutError while a second client is served', async () => {
    const server = await listen('tcp4')
    // The limit times the active client's request too: its read, reply and
    // close take a turn or two of this process, which a loaded machine can
    // stall for more than 100 ms; no gate can put a real timer after I/O,
    // so the limit leaves room for that and the idle client's wait is the
    // test's only cost.
    const serving = serveInBackground(server, upperLine, { timeoutMs: 1_000, policy: pooled({ concurrency: 2 }) })
    const idle = await connect(server.address)
    const active = await connect(server.address)
    await active.send('served\n')
    expect(await active.readLine()).toBe('SERVED\n')
    await idle.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(RequestTimeoutError)
  })

  test('a client that resets mid-stream is reported once and the server keeps serving', async () => {
    const server = await listen('tcp4')
    const entered = new Gate()
    const serving = serveInBackground(server, async (request) => {
      entered.open()
      for await (const chunk of request.source) request.socket.write(chunk)
    })
    const resetting = await connect(server.address)
    await resetting.send('partial')
    await entered.wait()
    resetting.reset()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect((serving.errors[0] as HandlerError).cause).toMatchObject({ code: 'ECONNRESET' })
    const next = await connect(server.address)
    await next.send('x')
    next.end()
    expect((await next.readAll()).toString()).toBe('x')
    expect(serving.errors).toHaveLength(1)
  })

  test('serviceActions runs every pollIntervalMs and after each request', async () => {
    const server = await listen('tcp4')
    let calls = 0
    serveInBackground(server, echo, { serviceActions: () => void calls++, pollIntervalMs: 20 })
    // Three polls must come eventually, not within vi.waitFor's default 1 s.
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3), { timeout: 10_000 })
    const before = calls
    const client = await connect(server.address)
    client.end()
    await client.waitForEnd()
    await vi.waitFor(() => expect(calls).toBeGreaterThan(before), { timeout: 10_000 })
  })

  test('serviceActions runs once at a time: the poll and the call after a request share a run still going', async () => {
    const server = await listen('tcp4')
    const gate = new Gate()
    let calls = 0
    let active = 0
    let mostAtOnce = 0
    const serving = serveInBackground(server, echo, {
      pollIntervalMs: 10,
      serviceActions: async () => {
        calls++
        active++
        mostAtOnce = Math.max(mostAtOnce, active)
        await gate.wait()
        active--
      },
    })
    await until(() => calls === 1, 10_000, 'the first poll')
    // Requests end while that run is held: each would start another run.
    for (let i = 0; i < 2; i++) {
      const client = await connect(server.address)
      client.end()
      await client.waitForEnd()
    }
    gate.open()
    await serving.stop()
    expect(mostAtOnce).toBe(1)
  })

  test('a serviceActions that never settles does not keep serve() from ending: it is given up at the drain deadline', async () => {
    const server = await listen('tcp4')
    const errors: unknown[] = []
    let calls = 0
    const controller = new AbortController()
    const done = serve(server, echo, {
      signal: controller.signal,
      pollIntervalMs: 10,
      drainTimeoutMs: 100,
      handleError: (error) => errors.push(error),
      serviceActions: () => {
        calls++
        return new Promise<void>(() => {})
      },
    })
    await until(() => calls === 1, 10_000, 'the first poll')
    controller.abort()
    await done
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(DrainTimeoutError)
  })

  test('a verifyRequest that never settles does not keep serve() from ending: the drain aborts the request it checks', async () => {
    const server = await listen('tcp4')
    const errors: unknown[] = []
    let checking = false
    const controller = new AbortController()
    const done = serve(server, echo, {
      signal: controller.signal,
      drainTimeoutMs: 100,
      handleError: (error) => errors.push(error),
      verifyRequest: () => {
        checking = true
        return new Promise<boolean>(() => {})
      },
    })
    const client = await connect(server.address)
    await until(() => checking, 10_000, 'verifyRequest to be called')
    controller.abort()
    await done
    await client.waitForEnd()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(DrainTimeoutError)
    client.destroy()
  })

  test('a server whose iteration fails while a request runs: serve() rejects with that error only once the request has ended', async () => {
    const inner = await listen('tcp4')
    let failPull: ((error: Error) => void) | undefined
    // A server of another library whose second pull fails.
    const server = {
      get address() {
        return inner.address
      },
      close: () => inner.close(),
      [Symbol.asyncDispose]: () => inner.close(),
      [Symbol.asyncIterator]() {
        const iterator = inner[Symbol.asyncIterator]()
        let pulls = 0
        return {
          next: () => (pulls++ === 0 ? iterator.next() : new Promise<IteratorResult<StreamRequest>>((_, reject) => (failPull = reject))),
          return: () => iterator.return?.() ?? Promise.resolve({ done: true as const, value: undefined }),
        }
      },
    } as unknown as Server<StreamRequest>
    const started = new Gate()
    const release = new Gate()
    let finished = false
    const done = serve(server, async (request: StreamRequest) => {
      started.open()
      await release.wait()
      finished = true
      request.socket.end()
    })
    let settled = false
    done.then(
      () => (settled = true),
      () => (settled = true),
    )
    const client = await connect(inner.address)
    await started.wait()
    await until(() => failPull !== undefined, 10_000, 'the second pull')
    failPull?.(new Error('accept failed'))
    // Let the failure travel through the pipeline (turns of the event loop, no timer).
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    release.open()
    await expect(done).rejects.toThrow('accept failed')
    expect(finished).toBe(true)
    client.destroy()
  })

  test('a handler that is neither a class nor a function is refused with InvalidOptionError, by serve() and handleRequest()', async () => {
    const server = await listen('tcp4')
    await expect(serve(server, 42 as never)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'handler' })
    await expect(handleRequest(server, 'echo' as never)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'handler' })
    await server.close()
  })

  test('a handler given with forked(), which brings its own, is refused with InvalidOptionError instead of being ignored (#16)', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: new URL('../fixtures/echo.mjs', import.meta.url), prefork: 0 })
    await expect(serve(server, () => {}, { policy })).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'handler' })
    expect(policy.pids).toEqual([])
    await server.close()
  })

  test('sequential() serves a second client only after the first finished', async () => {
    const server = await listen('tcp4')
    const probe = new ConcurrencyProbe()
    const gate = new Gate()
    serveInBackground(
      server,
      async (request) => {
        probe.enter()
        if (probe.entered === 1) await gate.wait()
        request.socket.write(`${probe.entered}\n`)
        probe.exit()
      },
      { policy: sequential() },
    )
    const first = await connect(server.address)
    await probe.waitUntil((_, entered) => entered === 1)
    const second = await connect(server.address)
    await until(() => server.pendingConnections === 1, 5_000, 'the second client waiting')
    expect(probe.entered).toBe(1)
    gate.open()
    expect(await first.readLine()).toBe('1\n')
    expect(await second.readLine()).toBe('2\n')
    expect(probe.peak).toBe(1)
  })

  test('pooled() runs at most its concurrency at once and completes every request', async () => {
    const server = await listen('tcp4')
    const probe = new ConcurrencyProbe()
    const gate = new Gate()
    serveInBackground(
      server,
      async (request) => {
        probe.enter()
        await gate.wait()
        request.socket.write('done\n')
        probe.exit()
      },
      { policy: pooled({ concurrency: 3 }) },
    )
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(server.address)))
    await probe.waitUntil((current) => current === 3)
    await vi.waitFor(() => expect(server.pendingConnections).toBe(5))
    gate.open()
    for (const client of clients) expect(await client.readLine()).toBe('done\n')
    expect(probe.peak).toBe(3)
    expect(probe.entered).toBe(8)
  })

  test('connections refused for overflow reach handleError as OverflowError', async () => {
    const server = await listen('tcp4', { maxPendingConnections: 0 })
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const serving = serveInBackground(
      server,
      async (request) => {
        probe.enter()
        await gate.wait()
        await request.sink(request.source)
      },
      { policy: sequential() },
    )
    const first = await connect(server.address)
    await probe.waitUntil((current) => current === 1)
    const refused = await connect(server.address)
    await refused.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(OverflowError)
    gate.open()
    first.end()
    await first.waitForEnd()
  })

  test('a policy is an it-pipe stage that works in a hand-written pipeline', async () => {
    const server = await listen('tcp4')
    const client = await connect(server.address)
    client.end()
    const served = await pipe(
      server,
      pooled({ concurrency: 2 })(async (request: StreamRequest) => {
        await request.sink(request.source)
        await request.close()
        await server.close()
        return formatPeer(request)
      }),
      async (outcomes) => {
        const all: string[] = []
        for await (const outcome of outcomes) all.push(outcome)
        return all
      },
    )
    expect(served).toEqual(['tcp'])
    await client.waitForEnd()
  })
})

function formatPeer(request: StreamRequest): string {
  return request.clientAddress.transport
}

describe('handleRequest()', () => {
  test('serves exactly one request and returns', async () => {
    const server = await listen('unix')
    const client = await connect(server.address)
    await client.send('one\n')
    await expect(handleRequest(server, upperLine)).resolves.toBeUndefined()
    expect(await client.readLine()).toBe('ONE\n')
    await client.waitForEnd()
  })

  test("returns handleTimeout()'s value when no request arrives in waitTimeoutMs, and loses no later request", async () => {
    const server = await listen('tcp4')
    await expect(handleRequest(server, upperLine, { waitTimeoutMs: 50, handleTimeout: () => 'TIMEOUT' })).resolves.toBe('TIMEOUT')
    const client = await connect(server.address)
    await client.send('late\n')
    await handleRequest(server, upperLine, { waitTimeoutMs: 5_000 })
    expect(await client.readLine()).toBe('LATE\n')
  })

  test('rejects with the reason when its signal aborts while waiting', async () => {
    await using server = await TCPServer.listen({ port: 0 })
    const controller = new AbortController()
    const pending = handleRequest(server, upperLine, { signal: controller.signal })
    controller.abort(new Error('give up'))
    await expect(pending).rejects.toThrow('give up')
  })
})
