// The testing kit's own edge cases: waits that were already over, closing
// twice, a reset over a Unix socket, and conditions that never answer.
import {
  ConcurrencyProbe,
  connect,
  Gate,
  listen,
  listenDatagram,
  openDatagramClient,
  serveInBackground,
  until,
} from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describe('testing kit', () => {
  test('Gate.wait() and ConcurrencyProbe.waitUntil() with a signal that already aborted reject with its reason', async () => {
    const signal = AbortSignal.abort(new Error('deadline'))
    await expect(new Gate().wait(signal)).rejects.toThrow('deadline')
    await expect(new ConcurrencyProbe().waitUntil((current) => current === 1, signal)).rejects.toThrow('deadline')
  })

  test('until() keeps its deadline when the condition itself never answers', async () => {
    await expect(until(() => new Promise<boolean>(() => {}), 50, 'an answer')).rejects.toThrow('Cannot wait for an answer')
  })

  test('a datagram client can be closed twice', async () => {
    const server = await listenDatagram('udp4')
    const client = await openDatagramClient(server.address)
    client.close()
    expect(() => client.close()).not.toThrow()
    await server.close()
  })

  test('reset() over a Unix stream socket closes it (a reset exists only for TCP)', async () => {
    const server = await listen('unix')
    const serving = serveInBackground(server, (request) => (request.kind === 'stream' ? request.sink(request.source) : undefined))
    const client = await connect(server.address)
    expect(() => client.reset()).not.toThrow()
    await client.closed
    await serving.stop()
  })
})
