/**
 * A compliance suite for servers (request sources): what every server must
 * do whatever its transport.
 *
 * @module
 */

import { getEventListeners } from 'node:events'
import { DrainTimeoutError, formatAddress, type Server, type StreamRequest, serve } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { connect } from '../clients/loopback-client.js'
import { Gate } from '../gate.js'
import { serveInBackground } from '../listen.js'

/**
 * Declares tests every stream server must pass: a real address and file
 * descriptor, requests yielded in accept order with the client's bytes
 * intact, idempotent close that ends iteration with `done` and frees the
 * address, fileno() of -1 after close, the stop notice (`stopping`,
 * `stop()`, an idle read that ends on it), and `serve()`'s shutdown and
 * drain: an idle connection ends at once on stop, a request that ignores
 * the stop is aborted at `drainTimeoutMs`, a close by other means
 * (`server.close()`) stops serving as an abort does, and an abort before the
 * start or twice is harmless and leaves no listener behind.
 *
 * @param title - The describe block's title.
 * @param start - Makes a new listening server (a fixture from `listen()`,
 *   or a wrapper around one written from the public `Server` contract).
 * @example
 * ```ts
 * describeSourceCompliance('UnixStreamServer', () => listen('unix'))
 * ```
 */
export function describeSourceCompliance(title: string, start: () => Promise<Server<StreamRequest>>): void {
  describe(title, () => {
    test('reports a bound address and a file descriptor', async () => {
      const server = await start()
      expect(formatAddress(server.address)).not.toMatch(/:0$/)
      expect(server.fileno()).toBeGreaterThan(2)
    })

    test('yields requests in accept order, with the bytes each client sent', async () => {
      const server = await start()
      const first = await connect(server.address)
      await first.send('one')
      const second = await connect(server.address)
      await second.send('two')
      const iterator = server[Symbol.asyncIterator]()
      for (const expected of ['one', 'two']) {
        const { value: request } = await iterator.next()
        if (request === undefined) throw new Error('Cannot take a request: the server ended')
        const reader = request.source
        const { value } = await reader.next()
        expect(Buffer.from(value ?? []).toString()).toBe(expected)
        await reader.return(undefined)
        await request.close()
      }
      first.destroy()
      second.destroy()
    })

    test('each request takes the stop notice: stop() aborts stopping with its reason, once, and ends an idle read', async () => {
      const server = await start()
      const client = await connect(server.address)
      const { value: request } = await server[Symbol.asyncIterator]().next()
      if (request === undefined) throw new Error('Cannot take a request: the server ended')
      expect(request.stopping).toBeInstanceOf(AbortSignal)
      expect(request.stopping.aborted).toBe(false)
      const reading = request.source.next()
      request.stop('stopping now')
      request.stop('again')
      expect(request.stopping.reason).toBe('stopping now')
      await expect(reading).resolves.toEqual({ done: true, value: undefined })
      await request.close()
      await client.waitForEnd()
      client.destroy()
      await server.close()
    })

    test('close() is idempotent, ends iteration with done, and sets fileno() to -1', async () => {
      const server = await start()
      const pending = server[Symbol.asyncIterator]().next()
      await Promise.all([server.close(), server.close()])
      await expect(pending).resolves.toEqual({ done: true, value: undefined })
      expect(server.closed).toBe(true)
      expect(server.fileno()).toBe(-1)
      await expect(connect(server.address, 2_000)).rejects.toThrow()
    })

    test('under serve(), a stop ends an idle connection at once: its read ends and its goodbye goes out', async () => {
      const server = await start()
      const waiting = new Gate()
      const serving = serveInBackground(server, async (request: StreamRequest) => {
        const reading = request.source.next()
        waiting.open()
        const { done } = await reading
        request.socket.end(done === true && request.stopping.aborted ? 'bye\n' : 'unexpected\n')
      })
      const client = await connect(server.address)
      await waiting.wait()
      await serving.stop()
      expect(await client.readLine()).toBe('bye\n')
      expect(serving.errors).toEqual([])
      client.destroy()
    })

    test('under serve(), a request that ignores the stop is aborted at drainTimeoutMs with DrainTimeoutError', async () => {
      const server = await start()
      const running = new Gate()
      let reason: unknown
      const serving = serveInBackground(
        server,
        async (request: StreamRequest) => {
          running.open()
          await new Promise((resolve) => request.signal.addEventListener('abort', resolve, { once: true }))
          reason = request.signal.reason
        },
        { drainTimeoutMs: 50 },
      )
      const client = await connect(server.address)
      await running.wait()
      await serving.stop()
      expect(reason).toBeInstanceOf(DrainTimeoutError)
      await client.waitForEnd()
      client.destroy()
    })

    test('under serve(), closing the server by other means stops serving: the running request is told and serve() resolves', async () => {
      const server = await start()
      const running = new Gate()
      const serving = serveInBackground(server, async (request: StreamRequest) => {
        running.open()
        await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
        request.socket.end('closing\n')
      })
      const client = await connect(server.address)
      await running.wait()
      await server.close()
      expect(await client.readLine()).toBe('closing\n')
      await serving.done
      expect(serving.errors).toEqual([])
      client.destroy()
    })

    test('serve() with a signal aborted before the start closes the server and resolves; aborting twice is harmless and leaves no listener', async () => {
      const first = await start()
      await serve(first, (request: StreamRequest) => request.socket.end(), { signal: AbortSignal.abort() })
      expect(first.closed).toBe(true)
      const second = await start()
      const controller = new AbortController()
      const serving = serve(second, (request: StreamRequest) => request.socket.end(), { signal: controller.signal })
      controller.abort()
      controller.abort()
      await serving
      expect(second.closed).toBe(true)
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    })
  })
}
