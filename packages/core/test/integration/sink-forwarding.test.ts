// `request.sink(request.source)` forwards chunks straight from the reader
// to the socket (no promise per chunk). These tests pin down that it behaves
// as the chunk-by-chunk path does: every byte in order, backpressure, the
// end, resets, aborts, and sources other than the connection's own.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import { RequestTimeoutError, type SocketAddress, type StreamRequest } from '@socketserver/core'
import { connect, Gate, type LoopbackClient, listen, serveInBackground, until } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

const echo = (request: StreamRequest): Promise<void> => request.sink(request.source)

/** How a sink() ended: 'delivered', or the code of its error. */
const outcomeOf = (sinking: Promise<void>): Promise<unknown> =>
  sinking.then(
    () => 'delivered',
    (error: { code?: string }) => error.code,
  )

/** A raw TCP client of `address` that reads nothing (paused), so the server's writes back up. */
function pausedClient(address: SocketAddress): Socket {
  if (!('port' in address)) throw new Error('Cannot connect: not TCP')
  const client = netConnect({ host: address.host, port: address.port })
  client.pause()
  return client
}

describe('sink(source) forwarding its own source', () => {
  test('echoes 8 MiB in order; while the client does not read, the server stops reading too (backpressure), holding little', async () => {
    const server = await listen('tcp4')
    let serverSocket: Socket | undefined
    const serving = serveInBackground(server, (request: StreamRequest) => {
      serverSocket = request.socket
      return echo(request)
    })
    const client = pausedClient(server.address)
    const payload = randomBytes(8 * 1024 * 1024)
    client.write(payload)
    client.end()
    // The client reads nothing: the server's writes fill the kernel buffers,
    // so it must pause its reads rather than buffer the whole payload.
    await until(() => serverSocket?.isPaused() === true, 10_000, 'the server to pause reading')
    expect(serverSocket?.writableLength).toBeLessThan(1024 * 1024)
    const received: Buffer[] = []
    client.on('data', (chunk: Buffer) => received.push(chunk))
    client.resume()
    await new Promise((resolve) => client.once('end', resolve))
    expect(Buffer.compare(Buffer.concat(received), payload)).toBe(0)
    client.destroy()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('bytes that arrived before sink() was called are forwarded first', async () => {
    const server = await listen('tcp4')
    const gate = new Gate()
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      const source = request.source
      // The reader is created (and reads ahead) before the handler decides to echo.
      await gate.wait()
      await request.sink(source)
    })
    const client = await connect(server.address)
    await client.send('first\n')
    await client.send('second\n')
    await vi.waitFor(() => expect(server.pendingConnections).toBe(0))
    gate.open()
    expect(await client.readLine()).toBe('first\n')
    await client.send('third\n')
    expect(await client.readLine()).toBe('second\n')
    expect(await client.readLine()).toBe('third\n')
    client.end()
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('a client that resets mid-stream fails the handler with the reset, and the server goes on serving', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, echo)
    const client = await connect(server.address)
    await client.send('hello\n')
    expect(await client.readLine()).toBe('hello\n')
    client.reset()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    const next = await connect(server.address)
    await next.send('still here\n')
    expect(await next.readLine()).toBe('still here\n')
    next.end()
    await next.waitForEnd()
    await serving.stop()
  })

  test('a timeout aborts a forwarding request: the client sees its connection end and the error is a RequestTimeoutError', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, echo, {
      timeoutMs: 100,
      // The request's clock starts once it is verified. Its reader is made
      // here and has read the ping before that, so sink() writes the echo
      // in the turn that starts the clock: however slow this machine, the
      // timeout can only come after the echo, while sink() waits for more.
      verifyRequest: async (request) => {
        void request.source
        await until(() => request.socket.bytesRead >= 'ping\n'.length, 10_000, 'the ping to be read ahead')
        return true
      },
    })
    const client = await connect(server.address)
    await client.send('ping\n')
    expect(await client.readLine()).toBe('ping\n')
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(RequestTimeoutError)
    await serving.stop()
  })

  test('reading the source while sink() forwards it is refused', async () => {
    const server = await listen('tcp4')
    const results: unknown[] = []
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      const forwarding = request.sink(request.source)
      results.push(await request.source.next().catch((error: unknown) => error))
      await forwarding
    })
    const client = await connect(server.address)
    await vi.waitFor(() => expect(results).toHaveLength(1))
    expect(String(results[0])).toMatch(/sink\(\) is forwarding this source/)
    await client.send('x')
    expect((await client.readBytes(1)).toString()).toBe('x')
    client.end()
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('a source that was already read from is written chunk by chunk, from where the reader stopped', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      const source = request.source
      const { value } = await source.next()
      await request.sink(
        (async function* () {
          yield Buffer.concat([Buffer.from('got '), Buffer.from(value ?? [])])
          yield* source
        })(),
      )
    })
    const client = await connect(server.address)
    await client.send('a')
    expect((await client.readBytes(5)).toString()).toBe('got a')
    await client.send('b')
    expect((await client.readBytes(1)).toString()).toBe('b')
    client.end()
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })
})

/** Two clients of one server and their requests, in order: `from`, then `to`. */
async function twoConnections(): Promise<{
  from: LoopbackClient
  fromRequest: StreamRequest
  to: LoopbackClient
  toRequest: StreamRequest
}> {
  const server = await listen('tcp4')
  const iterator = server[Symbol.asyncIterator]()
  const from = await connect(server.address)
  const { value: fromRequest } = await iterator.next()
  const to = await connect(server.address)
  const { value: toRequest } = await iterator.next()
  if (fromRequest === undefined || toRequest === undefined) throw new Error('Cannot take two requests')
  return { from, fromRequest, to, toRequest }
}

describe('sink(source) forwarding another connection', () => {
  test('relays one client to another until the first ends; the second sees every byte and then the end', async () => {
    const { from, fromRequest, to, toRequest } = await twoConnections()
    const relaying = toRequest.sink(fromRequest.source)
    const payload = randomBytes(1024 * 1024)
    await from.send(payload)
    from.end()
    expect(Buffer.compare(await to.readBytes(payload.length, 30_000), payload)).toBe(0)
    await to.waitForEnd()
    await relaying
    await Promise.all([fromRequest.close(), toRequest.close()])
  })

  test('when the receiving connection closes, forwarding stops with ERR_STREAM_DESTROYED and the sending one stays usable', async () => {
    const { from, fromRequest, to, toRequest } = await twoConnections()
    const relaying = toRequest.sink(fromRequest.source)
    await from.send('one\n')
    expect(await to.readLine()).toBe('one\n')
    toRequest.socket.destroy()
    await expect(relaying).rejects.toMatchObject({ code: 'ERR_STREAM_DESTROYED' })
    // The sender's bytes are not lost: a new reader gets them.
    await from.send('two\n')
    const { value } = await fromRequest.source.next()
    expect(Buffer.from(value ?? []).toString()).toBe('two\n')
    from.destroy()
    to.destroy()
    await Promise.all([fromRequest.close(), toRequest.close()])
  })
})

describe('sink(source) to a connection that can no longer write', () => {
  test.each([
    ['closed', (socket: Socket) => socket.destroy()],
    ['ended', (socket: Socket) => socket.end()],
  ])('forwarding to a connection already %s rejects at once, and the sender keeps its bytes', async (_state, stop) => {
    const { from, fromRequest, to, toRequest } = await twoConnections()
    stop(toRequest.socket)
    await until(() => !toRequest.socket.writable, 10_000, 'the target to stop writing')
    await from.send('kept\n')
    const source = fromRequest.source
    await until(() => fromRequest.socket.bytesRead > 0, 10_000, 'the sender to be read')
    await expect(toRequest.sink(source)).rejects.toMatchObject({ code: 'ERR_STREAM_DESTROYED' })
    // Nothing went to the target: a new reader of the sender gets the bytes.
    const { value } = await fromRequest.source.next()
    expect(Buffer.from(value ?? []).toString()).toBe('kept\n')
    from.destroy()
    to.destroy()
    await Promise.all([fromRequest.close(), toRequest.close()])
  })

  test('sink() of another source rejects when the connection is ended while it waits for a drain', async () => {
    const server = await listen('tcp4')
    let serverSocket: Socket | undefined
    let sinking: Promise<unknown> | undefined
    const serving = serveInBackground(server, (request: StreamRequest) => {
      serverSocket = request.socket
      async function* reply(): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(16 * 1024 * 1024)
        yield Buffer.from('never sent')
      }
      sinking = outcomeOf(request.sink(reply()))
      return sinking
    })
    const client = pausedClient(server.address)
    client.on('error', () => {})
    // The first chunk fills the buffers while the client reads nothing.
    await until(() => (serverSocket?.writableLength ?? 0) > 0, 10_000, 'the reply to wait for a drain')
    serverSocket?.end()
    client.resume()
    expect(await sinking).toBe('ERR_STREAM_DESTROYED')
    client.destroy()
    await serving.stop()
  })
})

describe('reading a connection source', () => {
  test('closing while a reader the handler left holds a full queue still reads to the end of the stream, for a clean close', async () => {
    const server = await listen('tcp4')
    let serverSocket: Socket | undefined
    const serving = serveInBackground(server, (request: StreamRequest) => {
      serverSocket = request.socket
      void request.source // reads ahead, and nobody takes its chunks
    })
    const client = await connect(server.address)
    await until(() => serverSocket !== undefined, 10_000, 'the handler to run')
    const closed = new Promise((resolve) => serverSocket?.once('close', resolve))
    // Far more chunks than the reader queues before it pauses the socket,
    // written without waiting for each: the close's linger timer (2 s) then
    // runs only while the sockets move bytes, never while this test waits.
    const sent = Array.from({ length: 16 }, () => client.send(Buffer.alloc(64 * 1024)))
    client.end()
    await Promise.all(sent)
    await closed
    // Closed because it read the client's end, not by the linger timer.
    expect(serverSocket?.readableEnded).toBe(true)
    client.destroy()
    await serving.stop()
  })

  test("a reader that leaves after the client's end hands the chunks it had queued to the next reader", async () => {
    const { from, fromRequest, to, toRequest } = await twoConnections()
    const first = fromRequest.source // reads ahead from here on
    for (const [index, part] of ['a', 'b', 'c'].entries()) {
      await from.send(part)
      await until(() => fromRequest.socket.bytesRead > index, 10_000, 'each part to arrive on its own')
    }
    from.end()
    await until(() => fromRequest.socket.readableEnded, 10_000, "the client's end to be read")
    let received = ''
    for await (const chunk of first) {
      received += Buffer.from(chunk).toString()
      break
    }
    expect(received).toBe('a')
    for await (const chunk of fromRequest.source) received += Buffer.from(chunk).toString()
    expect(received).toBe('abc')
    to.destroy()
    await Promise.all([fromRequest.close(), toRequest.close()])
  })

  test('a second read while one is pending is refused; the first still gets the next chunk', async () => {
    const { from, fromRequest, to, toRequest } = await twoConnections()
    const source = fromRequest.source
    const first = source.next()
    await expect(source.next()).rejects.toMatchObject({ name: 'ReadPendingError', code: 'SS_ERR_READ_PENDING' })
    await from.send('one\n')
    const { value } = await first
    expect(Buffer.from(value ?? []).toString()).toBe('one\n')
    from.destroy()
    to.destroy()
    await Promise.all([fromRequest.close(), toRequest.close()])
  })
})

describe('sink(source) ending the connection', () => {
  // The source ends while the socket still holds bytes the client has not
  // read: sink() must wait for them to reach the kernel, and fail when the
  // client resets first rather than report a delivery that did not happen.
  test.each([
    ['its own source', (request: StreamRequest) => request.sink(request.source)],
    ['another source', (request: StreamRequest) => request.sink([])],
  ])('sink() of %s fails when the client resets before the last bytes were delivered', async (name, sink) => {
    const server = await listen('tcp4')
    let serverSocket: Socket | undefined
    let ending: Promise<unknown> | undefined
    const serving = serveInBackground(server, (request: StreamRequest) => {
      serverSocket = request.socket
      // Far more than the kernel takes while the client reads nothing (about
      // 4 MiB here): the rest waits in the socket's buffer.
      request.socket.write(Buffer.alloc(16 * 1024 * 1024))
      ending = outcomeOf(sink(request))
      return ending
    })
    const client = pausedClient(server.address)
    client.on('error', () => {})
    client.end()
    await until(() => ending !== undefined, 10_000, 'the handler to call sink()')
    // Forwarding its own source ends the socket once the client's end was read.
    if (name === 'its own source') await until(() => serverSocket?.readableEnded === true, 10_000, "the client's end to be read")
    // The end is pending: bytes are still waiting to be handed to the kernel.
    expect(serverSocket?.writableEnded).toBe(true)
    expect(serverSocket?.writableFinished).toBe(false)
    expect(serverSocket?.writableLength).toBeGreaterThan(0)
    client.resetAndDestroy()
    expect(await ending).toBe('ERR_STREAM_DESTROYED')
    await serving.stop()
  })

  test('sink() of a source that stops when the request is aborted settles, though the socket is already destroyed', async () => {
    const server = await listen('tcp4')
    let served: StreamRequest | undefined
    let ending: Promise<unknown> | undefined
    const serving = serveInBackground(server, (request: StreamRequest) => {
      served = request
      async function* untilAborted(): AsyncGenerator<Uint8Array> {
        while (!request.signal.aborted) {
          yield Buffer.from('tick\n')
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      ending = outcomeOf(request.sink(untilAborted()))
      return ending
    })
    const client = await connect(server.address)
    expect(await client.readLine()).toBe('tick\n')
    served?.abort(new Error('stop'))
    expect(await ending).toBe('ERR_STREAM_DESTROYED')
    client.destroy()
    await serving.stop()
  })

  test('sink() of a chunk after the connection closed rejects rather than waiting for a drain that cannot come', async () => {
    const server = await listen('tcp4')
    let ending: Promise<unknown> | undefined
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      request.socket.destroy()
      await new Promise((resolve) => request.socket.once('close', resolve))
      ending = outcomeOf(request.sink([Buffer.from('too late\n')]))
      await ending
    })
    const client = await connect(server.address)
    await until(() => ending !== undefined, 10_000, 'the handler to call sink()')
    expect(await ending).toBe('ERR_STREAM_DESTROYED')
    client.destroy()
    await serving.stop()
  })
})

describe('sink(source) of another source', () => {
  test('chunks yielded in one turn leave in one segment (writev), not one each (#15)', async () => {
    const written = new Gate()
    const release = new Gate()
    const server = await listen('tcp4')
    serveInBackground(server, (request: StreamRequest) =>
      request.sink(
        (async function* () {
          yield Buffer.from('a\n')
          yield Buffer.from('b\n')
          yield Buffer.from('c\n')
          written.open()
          await release.wait()
        })(),
      ),
    )
    const client = await connect(server.address)
    await written.wait()
    expect(await client.readBytes(6)).toEqual(Buffer.from('a\nb\nc\n'))
    // The kernel's count of data segments this connection sent, from ss(8).
    const port = 'port' in server.address ? server.address.port : 0
    const ss = spawn('ss', ['-tniH', 'state', 'established', 'src', `127.0.0.1:${port}`])
    let output = ''
    ss.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await once(ss, 'exit')
    expect(output.match(/data_segs_out:(\d+)/)?.[1]).toBe('1')
    release.open()
    await client.waitForEnd()
  })
})
