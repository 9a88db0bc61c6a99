import { connect as netConnect, type Socket } from 'node:net'
import { ClientDisconnectedError, forked, ReplyError, type StreamRequest } from '@socketserver/core'
import { connect, listen, serveInBackground, until } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

/** The most natural Node code: read through the socket's own iterator, then end the socket with the reply. */
async function naiveUpper(request: StreamRequest): Promise<void> {
  let text = ''
  for await (const chunk of request.socket) {
    text += String(chunk)
    if (text.includes('\n')) break
  }
  request.socket.end(text.toUpperCase())
}

describe('a reply that cannot be written is reported (#14)', () => {
  test('a handler that reads with for await over request.socket, then ends the socket with its reply: ReplyError ERR_STREAM_DESTROYED reaches handleError, and the server serves on', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, naiveUpper)
    for (const [i, word] of ['first', 'second'].entries()) {
      const client = await connect(server.address)
      await client.send(`${word}\n`)
      await client.waitForEnd()
      // Node's iterator destroyed the socket when the loop ended: nothing came back.
      expect(client.buffered.toString()).toBe('')
      await vi.waitFor(() => expect(serving.errors).toHaveLength(i + 1))
      const error = serving.errors[i]
      expect(error).toBeInstanceOf(ReplyError)
      expect(error).toMatchObject({ code: 'ERR_STREAM_DESTROYED', clientAddress: { port: client.socket.localPort } })
      expect((error as Error).message).toMatch(
        new RegExp(`Cannot send ${word.length + 1} bytes to 127\\.0\\.0\\.1:\\d+: .* destroyed on this side .*request\\.source`),
      )
    }
  })

  test('under forked(), the lost reply is reported in the same shape as in this process: a ReplyError (#16)', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: new URL('../fixtures/naive-upper.mjs', import.meta.url), maxChildren: 1 })
    const serving = serveInBackground(server, null, { policy })
    const client = await connect(server.address)
    const port = client.socket.localPort
    await client.send('child\n')
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1), { timeout: 10_000 })
    const error = serving.errors[0] as ReplyError
    expect(error).toBeInstanceOf(ReplyError)
    expect(error).toMatchObject({ code: 'ERR_STREAM_DESTROYED', clientAddress: { port } })
    expect(error.message).toMatch(/destroyed on this side/)
  })

  test('verifyRequest that writes a refusal which cannot be sent: reported, not an unhandled rejection', async () => {
    const server = await listen('tcp4')
    let refused: Socket | undefined
    const serving = serveInBackground(server, () => {}, {
      verifyRequest: (request) => {
        refused = request.socket
        request.socket.write(Buffer.alloc(64 * 1024 * 1024))
        return false
      },
    })
    if (!('port' in server.address)) throw new Error('not TCP')
    const client = netConnect({ host: server.address.host, port: server.address.port })
    client.pause()
    client.on('error', () => {})
    await until(
      () => refused?.writableEnded === true && !refused.writableFinished && refused.writableLength > 0,
      10_000,
      'the refusal to be queued behind a full kernel buffer',
    )
    client.resetAndDestroy()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1), { timeout: 10_000 })
    // Lost to the client's reset: the client leaving, with the lost reply as the cause (#16).
    expect(serving.errors[0]).toBeInstanceOf(ClientDisconnectedError)
    expect((serving.errors[0] as ClientDisconnectedError).cause).toBeInstanceOf(ReplyError)
  })

  test('the documented way out: request.socket.iterator({ destroyOnReturn: false }) leaves the socket open for the reply', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      let text = ''
      for await (const chunk of request.socket.iterator({ destroyOnReturn: false })) {
        text += String(chunk)
        if (text.includes('\n')) break
      }
      request.socket.end(text.toUpperCase())
    })
    const client = await connect(server.address)
    await client.send('careful\n')
    expect(await client.readLine()).toBe('CAREFUL\n')
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('a write after the handler ended the connection: ReplyError ERR_STREAM_WRITE_AFTER_END', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, (request: StreamRequest) => {
      request.socket.end('first\n')
      request.socket.write('second\n')
    })
    const client = await connect(server.address)
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(ReplyError)
    expect(serving.errors[0]).toMatchObject({ code: 'ERR_STREAM_WRITE_AFTER_END' })
  })

  test('a reply still being sent when the client resets: the client leaving (#16), with the ReplyError and its system code as the cause', async () => {
    const server = await listen('tcp4')
    let serverSocket: Socket | undefined
    const serving = serveInBackground(server, (request: StreamRequest) => {
      serverSocket = request.socket
      // More than the kernel buffers hold: the rest waits in Node's buffer.
      request.socket.write(Buffer.alloc(64 * 1024 * 1024))
    })
    if (!('port' in server.address)) throw new Error('not TCP')
    const client = netConnect({ host: server.address.host, port: server.address.port })
    client.pause()
    client.on('error', () => {})
    // The handler returned and close() waits for the end: bytes still queued.
    await until(
      () => serverSocket?.writableEnded === true && !serverSocket.writableFinished && serverSocket.writableLength > 0,
      10_000,
      'the reply to be queued behind a full kernel buffer',
    )
    client.resetAndDestroy()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(ClientDisconnectedError)
    const lost = (serving.errors[0] as ClientDisconnectedError).cause as ReplyError
    expect(lost).toBeInstanceOf(ReplyError)
    expect(lost.code).toMatch(/^(ECONNRESET|EPIPE)$/)
    expect(lost.message).toMatch(/Cannot send the rest of the reply to 127\.0\.0\.1:\d+/)
  })

  test('a write with a callback after the socket was destroyed is not reported: its caller heard of the failure', async () => {
    const server = await listen('tcp4')
    const heard: unknown[] = []
    let ended = 0
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      request.socket.destroy()
      await new Promise<void>((resolve) =>
        request.socket.write('lost\n', (error) => {
          heard.push((error as { code?: string } | null | undefined)?.code)
          resolve()
        }),
      )
      ended++
    })
    const client = await connect(server.address)
    await client.waitForEnd()
    await until(() => ended === 1, 10_000, 'the handler to return')
    // A second request proves the first one's close has been reported on.
    const second = await connect(server.address)
    await second.waitForEnd()
    await until(() => ended === 2, 10_000, 'the second handler to return')
    expect(heard).toEqual(['ERR_STREAM_DESTROYED', 'ERR_STREAM_DESTROYED'])
    await serving.stop()
    expect(serving.errors).toEqual([])
  })
})
