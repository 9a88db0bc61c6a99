import { getEventListeners } from 'node:events'
import { DrainTimeoutError, HandlerError, pooled, RequestTimeoutError, type StreamRequest, serve } from '@socketserver/core'
import { StreamRequestHandler } from '@socketserver/handlers'
import { connect, Gate, listen, openFileDescriptors, until } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

describe('faults', () => {
  test('an error in finish() is reported and the next client is served', async () => {
    class BadFinish extends StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write(await this.rfile.readline())
      }
      override async finish(): Promise<void> {
        await super.finish()
        throw new Error('finish failed')
      }
    }
    const server = await listen('tcp4')
    const errors: unknown[] = []
    const controller = new AbortController()
    const done = serve(server, BadFinish, { signal: controller.signal, handleError: (error) => errors.push(error) })
    for (const text of ['one\n', 'two\n']) {
      const client = await connect(server.address)
      await client.send(text)
      expect(await client.readLine()).toBe(text)
      await client.waitForEnd()
    }
    await vi.waitFor(() => expect(errors).toHaveLength(2))
    expect(((errors[0] as HandlerError).cause as Error).message).toBe('finish failed')
    controller.abort()
    await done
  })

  test('a client that reads nothing cannot make the server buffer a large reply in memory', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x61)
    const chunks = 16
    let written = 0
    let connection: StreamRequestHandler['connection'] | undefined
    class Flood extends StreamRequestHandler {
      override async handle(): Promise<void> {
        connection = this.connection
        for (let i = 0; i < chunks; i++) {
          await this.wfile.write(chunk)
          written++
        }
      }
    }
    const server = await listen('unix')
    const controller = new AbortController()
    const done = serve(server, Flood, { signal: controller.signal })
    const client = await connect(server.address)
    client.socket.pause() // read nothing: the kernel buffers fill up
    await until(() => (connection?.writableLength ?? 0) > 0 && !(connection?.writable === false), 10_000, 'the first write to back up')
    await until(() => (connection?.writableLength ?? 0) >= 256 * 1024, 10_000, 'the kernel buffers to fill')
    // The handler is stuck in its first write(): no second megabyte was queued.
    expect(written).toBe(0)
    expect(connection?.writableLength).toBeLessThanOrEqual(chunk.length)
    client.socket.resume()
    const received = await client.readAll(30_000)
    expect(received.length).toBe(chunk.length * chunks)
    controller.abort()
    await done
  }, 60_000)

  test('timeoutMs also bounds the close: a client that reads nothing of a reply left in the buffer is cut off, and the next client is served', async () => {
    const before = openFileDescriptors()
    const errors: unknown[] = []
    const server = await listen('tcp4')
    const controller = new AbortController()
    let served = 0
    // One at a time, so a request stuck in its close would hold up the next.
    // The limit times the next request too (a turn or two of this process,
    // which a loaded machine can stall for more than 100 ms): it leaves room
    // for that, at the price of the slow client's wait.
    const done = serve(
      server,
      async (request: StreamRequest) => {
        // The first client: a reply left in the buffer, and the handler returns.
        if (++served === 1) request.socket.write(Buffer.alloc(32 * 1024 * 1024))
        else await request.sink(request.source)
      },
      { signal: controller.signal, policy: pooled({ concurrency: 1 }), timeoutMs: 1_000, handleError: (error) => errors.push(error) },
    )
    const slow = await connect(server.address)
    slow.socket.pause() // reads nothing: the handler returns, its reply stays buffered
    await until(() => served === 1, 10_000, 'the slow request to start')
    // The next client says all it has to say and ends its side while it
    // waits for the slot: its own timeoutMs then covers only the server's
    // read, echo and close, not a turn of this test between them.
    const next = await connect(server.address)
    await next.send('served\n')
    next.end()
    await until(() => errors.length === 1, 10_000, 'the slow request to time out')
    expect(errors[0]).toBeInstanceOf(RequestTimeoutError)
    expect((await next.readAll()).toString()).toBe('served\n')
    slow.destroy()
    controller.abort()
    await done
    expect(errors).toHaveLength(1)
    await server.close()
    // At most as many as before: a connection of the test before this one may still have been closing when
    // `before` was counted (CI once saw 21 against 22). A leak of this test's own would show as more.
    await vi.waitFor(() => expect(openFileDescriptors() ?? 0).toBeLessThanOrEqual(before ?? 0))
  })

  test('after throws, resets, timeouts and a forced drain, nothing leaks: descriptors, signal listeners', async () => {
    const before = openFileDescriptors()
    const server = await listen('tcp4')
    const controller = new AbortController()
    const errors: unknown[] = []
    const hanging = new Gate()
    let n = 0
    const done = serve(
      server,
      async (request: StreamRequest) => {
        const which = ++n
        if (which === 1) throw new Error('throws')
        if (which === 2) {
          for await (const chunk of request.source) request.socket.write(chunk)
          return
        }
        hanging.open()
        await new Promise(() => {})
      },
      {
        signal: controller.signal,
        handleError: (error) => errors.push(error),
        timeoutMs: 5_000,
        drainTimeoutMs: 100,
        policy: pooled({ concurrency: 4 }),
      },
    )
    const throwing = await connect(server.address)
    await throwing.waitForEnd()
    const resetting = await connect(server.address)
    await resetting.send('x')
    resetting.reset()
    const stuck = await connect(server.address)
    await hanging.wait()
    controller.abort()
    await done
    await stuck.waitForEnd()
    for (const client of [throwing, stuck]) client.destroy()
    expect(errors.some((error) => error instanceof HandlerError)).toBe(true)
    expect(errors.some((error) => error instanceof DrainTimeoutError || error instanceof RequestTimeoutError)).toBe(true)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    await server.close()
    await vi.waitFor(() => expect(openFileDescriptors()).toBe(before))
  })
})
