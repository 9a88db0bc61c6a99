import { HandlerError } from '@socketserver/core'
import { DatagramRequestHandler } from '@socketserver/handlers'
import {
  DATAGRAM_TRANSPORTS,
  describeDatagramHandlerCompliance,
  listenDatagram,
  openDatagramClient,
  serveInBackground,
} from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

/** Python's docs example for UDP: upper-cases the datagram. */
class UpperDatagram extends DatagramRequestHandler {
  override async handle(): Promise<void> {
    await this.wfile.write(
      Buffer.from(await this.rfile.read())
        .toString()
        .trim()
        .toUpperCase(),
    )
  }
}

describeDatagramHandlerCompliance('DatagramRequestHandler (upper-case)', {
  handler: UpperDatagram,
  exchange: async (client) => {
    await client.send('hello\n')
    expect((await client.receive()).toString()).toBe('HELLO')
  },
})

describe.each(DATAGRAM_TRANSPORTS)('DatagramRequestHandler over %s', (transport) => {
  test('sends nothing when the handler wrote nothing, and replies to the next datagram', async () => {
    class Selective extends DatagramRequestHandler {
      override async handle(): Promise<void> {
        if (Buffer.from(this.packet).toString() !== 'silent') await this.wfile.write(this.packet)
      }
    }
    const server = await listenDatagram(transport)
    serveInBackground(server, Selective)
    const client = await openDatagramClient(server.address)
    await client.send('silent')
    await client.send('loud')
    // Datagrams from one client arrive in order on loopback: the first reply
    // is the second datagram's, so the first one got none.
    expect((await client.receive()).toString()).toBe('loud')
    expect(client.pending).toBe(0)
    client.close()
  })

  test('sends nothing of a partial reply when handle() throws, and reports the error', async () => {
    class Partial extends DatagramRequestHandler {
      override async handle(): Promise<void> {
        await this.wfile.write('partial')
        if (Buffer.from(this.packet).toString() === 'fail') throw new Error('half way')
      }
    }
    const server = await listenDatagram(transport)
    const serving = serveInBackground(server, Partial)
    const client = await openDatagramClient(server.address)
    await client.send('fail')
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
    await client.send('ok')
    expect((await client.receive()).toString()).toBe('partial')
    expect(client.pending).toBe(0)
    client.close()
  })
})
