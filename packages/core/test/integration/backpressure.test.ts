import diagnosticsChannel from 'node:diagnostics_channel'
import { OverflowError } from '@socketserver/core'
import { connect, listen, registerCleanup, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describe('stream server backpressure', () => {
  test('with a consumer that pulls one request and stops, later clients wait unread and are served in order once it pulls again', async () => {
    const server = await listen('tcp4')
    const iterator = server[Symbol.asyncIterator]()
    const first = await connect(server.address)
    const { value: firstRequest } = await iterator.next()
    expect(firstRequest).toBeDefined()

    const clients = []
    for (const name of ['second', 'third', 'fourth']) {
      const client = await connect(server.address)
      await client.send(name)
      clients.push(client)
    }
    await until(() => server.pendingConnections === 3, 5_000, 'three waiting connections')

    for (const name of ['second', 'third', 'fourth']) {
      const { value: request } = await iterator.next()
      if (request === undefined) throw new Error('Cannot take a request: the server ended')
      const { value } = await request.source.next()
      expect(Buffer.from(value ?? []).toString()).toBe(name)
      await request.close()
    }
    expect(server.pendingConnections).toBe(0)
    for (const client of [first, ...clients]) client.destroy()
    await firstRequest?.close()
  })

  test('beyond maxPendingConnections, new connections are refused at once and reported on socketserver:server:drop', async () => {
    const overflows: unknown[] = []
    const onOverflow = (message: unknown): void => {
      overflows.push(message)
    }
    diagnosticsChannel.subscribe('socketserver:server:drop', onOverflow)
    registerCleanup(() => diagnosticsChannel.unsubscribe('socketserver:server:drop', onOverflow))
    const server = await listen('tcp4', { maxPendingConnections: 2 })
    const waiting = [await connect(server.address), await connect(server.address)]
    await until(() => server.pendingConnections === 2, 5_000, 'two waiting connections')
    const refused = await connect(server.address)
    await refused.waitForEnd()
    const mine = overflows.filter((message) => (message as { server: unknown }).server === server)
    expect(mine).toHaveLength(1)
    expect((mine[0] as { error: unknown }).error).toBeInstanceOf(OverflowError)
    expect(server.pendingConnections).toBe(2)
    expect(server.stats).toEqual({ received: 2, overflowed: 1, waiting: 2, slowWaits: 0, waitTimeouts: 0 })
    for (const client of waiting) client.destroy()
  })

  test('close() closes connections that were accepted but never handed out, and counts them', async () => {
    const closes: Array<{ dropped: number }> = []
    const onClose = (message: unknown): void => {
      closes.push(message as { dropped: number })
    }
    diagnosticsChannel.subscribe('socketserver:server:close', onClose)
    registerCleanup(() => diagnosticsChannel.unsubscribe('socketserver:server:close', onClose))
    const server = await listen('unix')
    const client = await connect(server.address)
    await until(() => server.pendingConnections === 1, 5_000, 'one waiting connection')
    await server.close()
    await client.waitForEnd()
    expect(closes.at(-1)?.dropped).toBe(1)
  })
})
