import type { StreamRequest } from '@socketserver/core'
import { connect, listen, serveInBackground } from '@socketserver/testing'
import { expect, test } from 'vitest'

test('a corked batch of buffers and strings in several encodings arrives whole and in order, every write callback called', async () => {
  const server = await listen('tcp4')
  const called: number[] = []
  const serving = serveInBackground(server, async (request: StreamRequest) => {
    const socket = request.socket
    socket.cork()
    socket.write(Buffer.from('bytes;'), () => called.push(0))
    socket.write('ünïcödé;', 'utf8', () => called.push(1))
    socket.write('latin1 é;', 'latin1', () => called.push(2))
    socket.write('6865783b', 'hex', () => called.push(3))
    socket.write(new Uint8Array([0x61, 0x3b]), () => called.push(4))
    socket.uncork()
  })
  const client = await connect(server.address)
  const got = await client.readAll()
  const expected = Buffer.concat([
    Buffer.from('bytes;'),
    Buffer.from('ünïcödé;', 'utf8'),
    Buffer.from('latin1 é;', 'latin1'),
    Buffer.from('hex;'),
    Buffer.from('a;'),
  ])
  expect(got.equals(expected)).toBe(true)
  expect(called).toEqual([0, 1, 2, 3, 4])
  await serving.stop()
  expect(serving.errors).toEqual([])
})

test('a corked batch larger than what is joined goes out as it is, whole', async () => {
  const server = await listen('tcp4')
  const pieces = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4_096, 0x41 + (i % 26)))
  let callbacks = 0
  const serving = serveInBackground(server, async (request: StreamRequest) => {
    request.socket.cork()
    for (const piece of pieces) request.socket.write(piece, () => callbacks++)
    request.socket.uncork()
  })
  const client = await connect(server.address)
  expect((await client.readAll()).equals(Buffer.concat(pieces))).toBe(true)
  expect(callbacks).toBe(pieces.length)
  await serving.stop()
})

test('strings whose byte length Node can only estimate (base64 with padding or spaces, odd hex) send exactly their bytes', async () => {
  const server = await listen('tcp4')
  const serving = serveInBackground(server, async (request: StreamRequest) => {
    const socket = request.socket
    socket.cork()
    socket.write('A')
    socket.write('aGVs bG8=', 'base64')
    socket.write('zz', 'hex')
    socket.write('Z')
    socket.uncork()
  })
  const client = await connect(server.address)
  const expected = Buffer.concat([Buffer.from('A'), Buffer.from('aGVs bG8=', 'base64'), Buffer.from('zz', 'hex'), Buffer.from('Z')])
  expect((await client.readAll()).toString('hex')).toBe(expected.toString('hex'))
  await serving.stop()
})
