import { getEventListeners } from 'node:events'
import { existsSync } from 'node:fs'
import { DrainTimeoutError, type StreamRequest, serve } from '@socketserver/core'
import { connect, Gate, listen } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

/** Echoes everything until the client ends its side. */
const echo = (request: StreamRequest): Promise<void> => request.sink(request.source)

describe('serve() shutdown', () => {
  test('abort while idle: serve() resolves, the port refuses connections, the Unix file is gone', async () => {
    const tcp = await listen('tcp4')
    const unix = await listen('unix')
    const controller = new AbortController()
    const both = Promise.all([serve(tcp, echo, { signal: controller.signal }), serve(unix, echo, { signal: controller.signal })])
    controller.abort()
    await both
    await expect(connect(tcp.address, 2_000)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(existsSync((unix.address as { path: string }).path)).toBe(false)
  })

  test('abort with a request in flight: it completes and its reply is flushed; new clients are refused at once', async () => {
    const server = await listen('tcp4')
    const entered = new Gate()
    const release = new Gate()
    const controller = new AbortController()
    const done = serve(
      server,
      async (request) => {
        entered.open()
        await release.wait()
        request.socket.write('x'.repeat(1 << 20))
      },
      { signal: controller.signal },
    )
    const client = await connect(server.address)
    await entered.wait()
    controller.abort()
    await expect(connect(server.address, 2_000)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    release.open()
    expect((await client.readAll()).length).toBe(1 << 20)
    await done
  })

  test('drain deadline exceeded: the request signal aborts with DrainTimeoutError, handleError gets it, serve() resolves', async () => {
    const server = await listen('tcp4')
    const entered = new Gate()
    const errors: unknown[] = []
    let seen: unknown
    const controller = new AbortController()
    const done = serve(
      server,
      async (request) => {
        entered.open()
        await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()))
        seen = request.signal.reason
      },
      { signal: controller.signal, drainTimeoutMs: 50, handleError: (error) => errors.push(error) },
    )
    const client = await connect(server.address)
    await entered.wait()
    controller.abort()
    await done
    expect(seen).toBeInstanceOf(DrainTimeoutError)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(DrainTimeoutError)
    await client.waitForEnd()
  })

  test('a handler that never returns and ignores its signal cannot keep serve() from resolving after the drain deadline', async () => {
    const server = await listen('unix')
    const entered = new Gate()
    const controller = new AbortController()
    const errors: unknown[] = []
    const done = serve(
      server,
      async () => {
        entered.open()
        await new Promise(() => {})
      },
      { signal: controller.signal, drainTimeoutMs: 50, handleError: (error) => errors.push(error) },
    )
    const client = await connect(server.address)
    await entered.wait()
    controller.abort()
    await done
    expect(errors[0]).toBeInstanceOf(DrainTimeoutError)
    await client.waitForEnd()
  })

  test('forceSignal ends the drain at once', async () => {
    const server = await listen('tcp4')
    const entered = new Gate()
    const controller = new AbortController()
    const force = new AbortController()
    const errors: unknown[] = []
    const done = serve(
      server,
      async () => {
        entered.open()
        await new Promise(() => {})
      },
      { signal: controller.signal, forceSignal: force.signal, handleError: (error) => errors.push(error) },
    )
    const client = await connect(server.address)
    await entered.wait()
    controller.abort()
    force.abort()
    await done
    expect(errors[0]).toBeInstanceOf(DrainTimeoutError)
    client.destroy()
  })

  test('abort before start: serve() closes the server and resolves', async () => {
    const server = await listen('tcp4')
    await serve(server, echo, { signal: AbortSignal.abort() })
    expect(server.closed).toBe(true)
  })

  test('aborting twice is harmless, and no listener stays on the signals after serve() resolves', async () => {
    const server = await listen('tcp4')
    const controller = new AbortController()
    const force = new AbortController()
    const done = serve(server, echo, { signal: controller.signal, forceSignal: force.signal, serviceActions: () => {}, pollIntervalMs: 10 })
    const client = await connect(server.address)
    await client.send('hi')
    controller.abort()
    controller.abort()
    client.end()
    await done
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(force.signal, 'abort')).toHaveLength(0)
  })

  test('closing the server ends serve() after running requests finish', async () => {
    const server = await listen('tcp4')
    const entered = new Gate()
    const done = serve(server, (request) => {
      entered.open()
      return echo(request)
    })
    const client = await connect(server.address)
    await client.send('bye')
    await entered.wait()
    await server.close()
    client.end()
    expect((await client.readAll()).toString()).toBe('bye')
    await done
  })
})
