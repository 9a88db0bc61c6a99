import {
  ClientDisconnectedError,
  defaultHandleError,
  HandlerError,
  HookError,
  RequestTimeoutError,
  type StreamRequest,
} from '@socketserver/core'
import { IncompleteReadError, lineBatches, StreamRequestHandler } from '@socketserver/handlers'
import { connect, Gate, listen, serveInBackground, until } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

/** Upper-cases each line until the input ends. */
class UpperLines extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) await this.wfile.write(line.toString('latin1').toUpperCase())
  }
}

describe('StreamRequestHandler on stop', () => {
  test('an idle rfile.lines() loop ends on stop; one holding half a line waits for the rest and answers it', async () => {
    const server = await listen('tcp4')
    const requests: StreamRequest[] = []
    const serving = serveInBackground(
      server,
      class extends UpperLines {
        override async setup(): Promise<void> {
          requests.push(this.request)
          await super.setup()
        }
      },
      { drainTimeoutMs: 600_000 },
    )
    const idle = await connect(server.address)
    const half = await connect(server.address)
    await idle.send('one\n')
    expect(await idle.readLine()).toBe('ONE\n')
    await half.send('hel')
    // The server holds the half line (its reader waits for the rest).
    await until(() => requests.length === 2 && requests.every((request) => request.socket.bytesRead > 0))
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    // The idle one ends while the other still waits for its newline.
    await idle.waitForEnd()
    expect(half.ended).toBe(false)
    await half.send('lo\n')
    expect(await half.readLine()).toBe('HELLO\n')
    await half.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    idle.destroy()
    half.destroy()
  })

  test('readExactly() between frames ends with an IncompleteReadError of nothing partial, which is no error; one holding half a frame gets the rest', async () => {
    const server = await listen('tcp4')
    const requests: StreamRequest[] = []
    const outcomes: unknown[] = []
    const serving = serveInBackground(
      server,
      class extends StreamRequestHandler {
        override async handle(): Promise<void> {
          requests.push(this.request)
          try {
            for (;;) await this.wfile.write(await this.rfile.readExactly(4))
          } catch (error) {
            outcomes.push(error)
            throw error
          }
        }
      },
      { drainTimeoutMs: 600_000 },
    )
    const idle = await connect(server.address)
    const half = await connect(server.address)
    await half.send('ab')
    await until(() => requests.length === 2 && requests.some((request) => request.socket.bytesRead === 2))
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    await idle.waitForEnd()
    await half.send('cd')
    expect((await half.readBytes(4)).toString()).toBe('abcd')
    await half.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    expect(outcomes).toHaveLength(2)
    expect(outcomes.every((error) => error instanceof IncompleteReadError && error.partial.length === 0)).toBe(true)
    idle.destroy()
    half.destroy()
  })

  test('the framing helpers over request.source finish a half-received frame on stop too', async () => {
    const server = await listen('tcp4')
    const requests: StreamRequest[] = []
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        requests.push(request)
        for await (const batch of lineBatches(request.source)) {
          request.socket.write(Buffer.concat(batch.map((line) => Buffer.from(line.toString('latin1').toUpperCase()))))
        }
      },
      { drainTimeoutMs: 600_000 },
    )
    const client = await connect(server.address)
    await client.send('hel')
    await until(() => requests[0]?.socket.bytesRead === 3)
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    await client.send('lo\n')
    expect(await client.readLine()).toBe('HELLO\n')
    await client.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    client.destroy()
  })
})

describe('StreamRequestHandler idle timeout', () => {
  test('the handler can say goodbye: its waiting read rejects with RequestTimeoutError and wfile still works', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(
      server,
      class extends StreamRequestHandler {
        override idleTimeoutMs = 100
        override async handle(): Promise<void> {
          try {
            for await (const line of this.rfile.lines()) await this.wfile.write(line)
          } catch (error) {
            if (!(error instanceof RequestTimeoutError)) throw error
            await this.wfile.write('idle too long, goodbye\n')
          }
        }
      },
    )
    const client = await connect(server.address)
    await client.send('hi\n')
    expect(await client.readLine()).toBe('hi\n')
    expect(await client.readLine()).toBe('idle too long, goodbye\n')
    await client.waitForEnd()
    expect(client.error).toBeUndefined()
    await serving.stop()
    expect(serving.errors).toEqual([])
    client.destroy()
  })

  test('a handler that ignores the failed read and stays idle is aborted at the next timeout', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(
      server,
      class extends StreamRequestHandler {
        override idleTimeoutMs = 100
        override async handle(): Promise<void> {
          await this.rfile.readline().catch(() => {})
          // Waits for nothing that will come: the request's abort ends it.
          await new Promise((resolve) => this.request.signal.addEventListener('abort', resolve))
        }
      },
    )
    const client = await connect(server.address)
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(RequestTimeoutError)
    client.destroy()
  })
})

describe('one error shape', () => {
  test('a client that resets while the handler reads is a ClientDisconnectedError (its reset fails the read, or the reply at the close), and the default handleError prints nothing for it', async () => {
    const server = await listen('tcp4')
    const reading = new Gate()
    const serving = serveInBackground(
      server,
      class extends StreamRequestHandler {
        override async handle(): Promise<void> {
          const line = this.rfile.readline()
          reading.open()
          await line
          await this.wfile.write('never\n')
        }
      },
    )
    const client = await connect(server.address)
    const port = client.socket.localPort
    await client.send('half')
    await reading.wait()
    client.reset()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    const error = serving.errors[0] as ClientDisconnectedError
    expect(error).toBeInstanceOf(ClientDisconnectedError)
    expect(error).toMatchObject({ code: 'SS_ERR_CLIENT_DISCONNECTED', clientAddress: { port } })
    expect(error.message).toMatch(/127\.0\.0\.1:\d+: the client disconnected/)
    const written: string[] = []
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk))
      return true
    })
    try {
      defaultHandleError(error, undefined)
      defaultHandleError(new HandlerError({ transport: 'tcp', host: '127.0.0.1', port: 1, family: 'IPv4' }, new Error('boom')), undefined)
    } finally {
      write.mockRestore()
    }
    expect(written).toEqual(['socketserver: HandlerError: Cannot handle the request from 127.0.0.1:1: Error: boom\n'])
    await serving.stop()
  })

  test('verifyRequest and serviceActions that throw are reported as HookError with what they threw as the cause', async () => {
    const server = await listen('tcp4')
    let calls = 0
    const serving = serveInBackground(server, UpperLines, {
      verifyRequest: () => {
        throw new Error('no database')
      },
      serviceActions: () => {
        calls++
        if (calls === 1) throw new TypeError('bad tick')
      },
      pollIntervalMs: 10,
    })
    const client = await connect(server.address)
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors.length).toBeGreaterThanOrEqual(2))
    const hooks = serving.errors.filter((error): error is HookError => error instanceof HookError)
    expect(hooks.map((error) => error.hook).sort()).toEqual(['serviceActions', 'verifyRequest'])
    expect(hooks.every((error) => error.code === 'SS_ERR_HOOK' && error.cause instanceof Error)).toBe(true)
    expect(hooks.find((error) => error.hook === 'verifyRequest')?.message).toMatch(
      /^Cannot run verifyRequest for the request from 127\.0\.0\.1:\d+: Error: no database$/,
    )
    await serving.stop()
    client.destroy()
  })
})

describe('rfile.inMessage and the idle timeout, read on', () => {
  test('inMessage keeps the read of a body announced by a header line waiting through a stop', async () => {
    const server = await listen('tcp4')
    const headerRead = new Gate()
    const serving = serveInBackground(
      server,
      class extends StreamRequestHandler {
        override async handle(): Promise<void> {
          for (;;) {
            const header = await this.rfile.readline()
            if (header.length === 0) return
            this.rfile.inMessage = true
            headerRead.open()
            const body = await this.rfile.readExactly(Number(header.toString().trim()))
            this.rfile.inMessage = false
            await this.wfile.write(Buffer.from(`${body.toString().toUpperCase()}\n`))
          }
        }
      },
      { drainTimeoutMs: 600_000 },
    )
    const client = await connect(server.address)
    await client.send('5\n')
    await headerRead.wait()
    const stopped = serving.stop()
    await until(() => serving.signal.aborted)
    await client.send('hello')
    expect(await client.readLine()).toBe('HELLO\n')
    await client.waitForEnd()
    await stopped
    expect(serving.errors).toEqual([])
    client.destroy()
  })

  test('a handler that catches the idle timeout and reads on waits for the client again (the next idle period aborts)', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(
      server,
      class extends StreamRequestHandler {
        // The client's answer must come within one idle period, on a loaded machine too.
        override idleTimeoutMs = 1_000
        override async handle(): Promise<void> {
          try {
            await this.rfile.readline()
          } catch (error) {
            if (!(error instanceof RequestTimeoutError)) throw error
            await this.wfile.write('still there?\n')
          }
          const answer = await this.rfile.readline()
          await this.wfile.write(`you said ${answer.toString()}`)
        }
      },
    )
    const client = await connect(server.address)
    expect(await client.readLine()).toBe('still there?\n')
    await client.send('yes\n')
    expect(await client.readLine()).toBe('you said yes\n')
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
    client.destroy()
  })
})

test("rfile's say-so ends with its wait: a handler that reads a header with rfile and then request.source directly is idle on stop", async () => {
  const server = await listen('tcp4')
  let connection: StreamRequest | undefined
  const headerRead = new Gate()
  const serving = serveInBackground(
    server,
    class extends StreamRequestHandler {
      override async handle(): Promise<void> {
        connection = this.request
        await this.rfile.readline()
        headerRead.open()
        for await (const chunk of this.request.source) await this.wfile.write(chunk)
      }
    },
    { drainTimeoutMs: 600_000 },
  )
  const client = await connect(server.address)
  // The header comes in two chunks: rfile waited holding half of it.
  await client.send('hea')
  await until(() => connection?.socket.bytesRead === 3)
  await client.send('der\n')
  await headerRead.wait()
  await serving.stop()
  await client.waitForEnd()
  expect(serving.errors).toEqual([])
  client.destroy()
})
