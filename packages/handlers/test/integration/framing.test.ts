// Framing over real sockets: pipelining clients send many frames in one
// write; handlers decode them from request.source (or rfile), answer each,
// and encode the replies.
import { HandlerError, type StreamRequest } from '@socketserver/core'
import {
  BufferedWriter,
  decodeLengthPrefixed,
  encodeLengthPrefixed,
  FrameTooLargeError,
  FrameWriter,
  LengthPrefixedDecoder,
  LengthPrefixedEncoder,
  LineEncoder,
  lengthPrefixedBatches,
  lengthPrefixedFrames,
  lineBatches,
  StreamRequestHandler,
  trimLineEnd,
} from '@socketserver/handlers'
import { connect, listen, serveInBackground } from '@socketserver/testing'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import { describe, expect, test, vi } from 'vitest'

/** Request i: its number and a body of i % 300 bytes, with one 200 KB frame that spans many socket reads. */
function requestFrame(index: number): Buffer {
  const body = Buffer.alloc(index === 700 ? 200_000 : index % 300, index % 251)
  return Buffer.concat([Buffer.from(`${index}:`), body])
}

/** The reply to a request: its number and its body's length. */
function reply(frame: Uint8Array): string {
  const text = Buffer.from(frame).toString('latin1')
  const colon = text.indexOf(':')
  return `${text.slice(0, colon)} got ${frame.length - colon - 1}`
}

const COUNT = 2_000
const expectedReplies = Array.from({ length: COUNT }, (_, index) => reply(requestFrame(index)))

describe('length-prefixed framing over TCP', () => {
  test('pipe(request, decodeLengthPrefixed(), ..., encodeLengthPrefixed(), request) answers 2,000 frames sent in one write, as it-length-prefixed encodes and decodes them', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, (request: StreamRequest) =>
      pipe(
        request,
        decodeLengthPrefixed(),
        async function* (frames) {
          for await (const frame of frames) yield reply(frame)
        },
        encodeLengthPrefixed(),
        request,
      ),
    )
    const client = await connect(server.address)
    const wire = Buffer.concat(
      [...lp.encode(Array.from({ length: COUNT }, (_, index) => requestFrame(index)))].map((chunk) => chunk.subarray()),
    )
    await client.send(wire)
    client.end()
    const replies: string[] = []
    for await (const frame of lp.decode([await client.readAll()])) replies.push(Buffer.from(frame.subarray()).toString('latin1'))
    expect(replies).toEqual(expectedReplies)
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('a StreamRequestHandler answers each batch of frames from rfile with one writeBatch(), before the client ends its side', async () => {
    const batchSizes: number[] = []
    class Batched extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const out = new FrameWriter(this.wfile, new LengthPrefixedEncoder({ prefix: 'uint32be' }))
        for await (const batch of lengthPrefixedBatches(this.rfile, { prefix: 'uint32be', maxFrameSize: 1_000_000 })) {
          batchSizes.push(batch.length)
          await out.writeBatch(batch.map(reply))
        }
      }
    }
    const server = await listen('tcp4')
    const serving = serveInBackground(server, Batched)
    const client = await connect(server.address)
    const encoder = new LengthPrefixedEncoder({ prefix: 'uint32be' })
    await client.send(encoder.encodeBatch(Array.from({ length: COUNT }, (_, index) => requestFrame(index))))
    const replyBytes = encoder.encodeBatch(expectedReplies).length
    const decoder = new LengthPrefixedDecoder({ prefix: 'uint32be' })
    // Every reply arrives while the connection stays open: nothing waits for the client's end.
    const replies = decoder.decode(await client.readBytes(replyBytes)).map((frame) => frame.toString('latin1'))
    decoder.end()
    expect(replies).toEqual(expectedReplies)
    // Batches, not one frame at a time: fewer batches than frames.
    expect(batchSizes.reduce((sum, size) => sum + size, 0)).toBe(COUNT)
    expect(batchSizes.length).toBeLessThan(COUNT / 10)
    client.end()
    await client.waitForEnd()
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('a prefix over maxFrameSize: the frames before it are answered, then the request fails with FrameTooLargeError', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      const out = new LengthPrefixedEncoder({ prefix: 'uint16be' })
      for await (const frame of lengthPrefixedFrames(request.source, { prefix: 'uint16be', maxFrameSize: 1_024 })) {
        request.socket.write(out.encode(reply(frame)))
      }
    })
    const client = await connect(server.address)
    const encoder = new LengthPrefixedEncoder({ prefix: 'uint16be' })
    await client.send(Buffer.concat([encoder.encodeBatch(['1:a', '2:bb']), Buffer.from([0x08, 0x00]), Buffer.alloc(2_048)]))
    expect(await client.readAll()).toEqual(encoder.encodeBatch(['1 got 1', '2 got 2']))
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1))
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
    expect((serving.errors[0] as HandlerError).cause).toBeInstanceOf(FrameTooLargeError)
    expect((serving.errors[0] as HandlerError).cause).toMatchObject({ size: 2_048, limit: 1_024 })
  })
})

describe('line framing over TCP', () => {
  test('lineBatches(request.source) answers 2,000 pipelined lines, one write per batch', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      const out = new FrameWriter(new BufferedWriter(request.socket), new LineEncoder())
      for await (const batch of lineBatches(request.source, { maxLength: 64 })) {
        await out.writeBatch(batch.map((line) => trimLineEnd(line).toString().toUpperCase()))
      }
    })
    const client = await connect(server.address)
    const input = Array.from({ length: COUNT }, (_, index) => `line ${index}${index % 2 === 0 ? '\r' : ''}\n`).join('')
    await client.send(input)
    client.end()
    const replies = (await client.readAll()).toString().split('\n')
    expect(replies).toEqual([...Array.from({ length: COUNT }, (_, index) => `LINE ${index}`), ''])
    await serving.stop()
    expect(serving.errors).toEqual([])
  })
})
