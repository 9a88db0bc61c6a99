/**
 * A compliance suite for servers (request sources): what every server must
 * do whatever its transport.
 *
 * @module
 */

import { formatAddress, type StreamServer } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { connect } from '../clients/loopback-client.js'

/**
 * Declares tests every stream server must pass: a real address and file
 * descriptor, requests yielded in accept order with the client's bytes
 * intact, idempotent close that ends iteration with `done` and frees the
 * address, fileno() of -1 after close, and the stop notice (`stopping`,
 * `stop()`, an idle read that ends on it).
 *
 * @param title - The describe block's title.
 * @param start - Makes a new listening server (a fixture from `listen()`).
 * @example
 * ```ts
 * describeSourceCompliance('UnixStreamServer', () => listen('unix'))
 * ```
 */
export function describeSourceCompliance(title: string, start: () => Promise<StreamServer>): void {
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
  })
}
