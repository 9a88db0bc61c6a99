/**
 * A compliance suite for datagram servers (request sources): what every one
 * must do, ours or a wrapper written from the public `Server` contract.
 *
 * @module
 */

import { type DatagramRequest, DrainTimeoutError, formatAddress, type Server } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { openDatagramClient } from '../clients/datagram-client.js'
import { Gate } from '../gate.js'
import { serveInBackground } from '../listen.js'

/**
 * Declares tests every datagram server must pass: a real address, datagrams
 * yielded whole with their sender, replies that reach the sender, the stop
 * notice on each request, replies that still go out while `serve()` drains
 * (the server's `stopAccepting()`), a request that ignores the stop aborted
 * at `drainTimeoutMs`, a close by other means that stops serving as an
 * abort does, and an idempotent `close()` that ends iteration with `done`.
 *
 * @param title - The describe block's title.
 * @param start - Makes a new bound server (a fixture from `listenDatagram()`,
 *   or a wrapper around one).
 * @example
 * ```ts
 * describeDatagramSourceCompliance('UDPServer', () => listenDatagram('udp4'))
 * ```
 */
export function describeDatagramSourceCompliance(title: string, start: () => Promise<Server<DatagramRequest>>): void {
  describe(title, () => {
    test('reports a bound address and yields each datagram whole, with its sender, in order', async () => {
      const server = await start()
      expect(formatAddress(server.address)).not.toMatch(/:0$/)
      const client = await openDatagramClient(server.address)
      await client.send('one')
      await client.send('two')
      const iterator = server[Symbol.asyncIterator]()
      for (const expected of ['one', 'two']) {
        const { value: request } = await iterator.next()
        if (request === undefined) throw new Error('Cannot take a request: the server ended')
        expect(request.kind).toBe('datagram')
        expect(Buffer.from(request.data).toString()).toBe(expected)
        await request.reply(`got ${expected}`)
        expect((await client.receive()).toString()).toBe(`got ${expected}`)
      }
      client.close()
      await server.close()
    })

    test('on stop, each running request gets the notice and its reply still goes out during the drain', async () => {
      const server = await start()
      const waiting = new Gate()
      const serving = serveInBackground(server, async (request: DatagramRequest) => {
        waiting.open()
        await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
        await request.reply('goodbye')
      })
      const client = await openDatagramClient(server.address)
      await client.send('hello')
      await waiting.wait()
      await serving.stop()
      expect((await client.receive()).toString()).toBe('goodbye')
      expect(serving.errors).toEqual([])
      client.close()
    })

    test('close() is idempotent and ends iteration with done', async () => {
      const server = await start()
      const pending = server[Symbol.asyncIterator]().next()
      await Promise.all([server.close(), server.close()])
      await expect(pending).resolves.toEqual({ done: true, value: undefined })
      expect(server.closed).toBe(true)
    })

    test('under serve(), a request that ignores the stop is aborted at drainTimeoutMs with DrainTimeoutError', async () => {
      const server = await start()
      const running = new Gate()
      let reason: unknown
      const serving = serveInBackground(
        server,
        async (request: DatagramRequest) => {
          running.open()
          await new Promise((resolve) => request.signal.addEventListener('abort', resolve, { once: true }))
          reason = request.signal.reason
        },
        { drainTimeoutMs: 50 },
      )
      const client = await openDatagramClient(server.address)
      await client.send('hello')
      await running.wait()
      await serving.stop()
      expect(reason).toBeInstanceOf(DrainTimeoutError)
      client.close()
    })

    test('under serve(), closing the server by other means stops serving: the running request is told and serve() resolves', async () => {
      const server = await start()
      const running = new Gate()
      let told: unknown
      const serving = serveInBackground(server, async (request: DatagramRequest) => {
        running.open()
        await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
        told = request.stopping.reason
      })
      const client = await openDatagramClient(server.address)
      await client.send('hello')
      await running.wait()
      await server.close()
      await serving.done
      expect(told).toBeInstanceOf(Error)
      expect(serving.errors).toEqual([])
      client.close()
    })
  })
}
