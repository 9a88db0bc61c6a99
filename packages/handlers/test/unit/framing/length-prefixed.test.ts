import { InvalidOptionError } from '@socketserver/core'
import {
  DEFAULT_MAX_FRAME_SIZE,
  decodeLengthPrefixed,
  encodeLengthPrefixed,
  FrameTooLargeError,
  FrameWriter,
  IncompleteFrameError,
  LengthPrefixedDecoder,
  LengthPrefixedEncoder,
  lengthPrefixedBatches,
  lengthPrefixedFrames,
  MalformedFrameError,
  ReplyBuffer,
} from '@socketserver/handlers'
import { pipe } from 'it-pipe'
import { describe, expect, test } from 'vitest'
import { stream } from '../chunked-input.js'
import { isViewOf } from './views.js'

const bytes = (...values: number[]): Buffer => Buffer.from(values)
const hex = (frames: Uint8Array[]): string[] => frames.map((frame) => Buffer.from(frame).toString('hex'))

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

/** Collects until the iteration fails: what came, and the error. */
async function until<T>(iterable: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = []
  try {
    for await (const item of iterable) items.push(item)
  } catch (error) {
    return { items, error }
  }
  throw new Error('Cannot finish: the iteration ended without an error')
}

describe('LengthPrefixedEncoder', () => {
  test('writes each prefix kind as it-length-prefixed and network byte order do', () => {
    expect(new LengthPrefixedEncoder().encode('hi')).toEqual(bytes(2, 0x68, 0x69))
    expect(new LengthPrefixedEncoder().encode(Buffer.alloc(300)).subarray(0, 2)).toEqual(bytes(0xac, 0x02))
    expect(new LengthPrefixedEncoder({ prefix: 'uint8' }).encode('hi')).toEqual(bytes(2, 0x68, 0x69))
    expect(new LengthPrefixedEncoder({ prefix: 'uint16be' }).encode('hi')).toEqual(bytes(0, 2, 0x68, 0x69))
    expect(new LengthPrefixedEncoder({ prefix: 'uint32be' }).encode('hi')).toEqual(bytes(0, 0, 0, 2, 0x68, 0x69))
    expect(new LengthPrefixedEncoder({ prefix: 'uint16be' }).encode('é')).toEqual(bytes(0, 2, 0xc3, 0xa9))
    expect(new LengthPrefixedEncoder().encodeBatch(['a', '', bytes(7)])).toEqual(bytes(1, 0x61, 0, 1, 7))
  })

  test('refuses a frame longer than maxFrameSize or than its prefix can say, with the size and the limit', () => {
    expect(() => new LengthPrefixedEncoder({ maxFrameSize: 3 }).encode('four')).toThrow(
      new FrameTooLargeError('Cannot write a frame of 4 bytes: more than maxFrameSize 3', { size: 4, limit: 3 }),
    )
    const error = (() => {
      try {
        new LengthPrefixedEncoder({ prefix: 'uint8' }).encodeBatch(['ok', Buffer.alloc(256)])
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(FrameTooLargeError)
    expect(error).toMatchObject({
      code: 'SS_ERR_FRAME_TOO_LARGE',
      size: 256,
      limit: 255,
      message: 'Cannot write a frame of 256 bytes: more than a uint8 length prefix can say (255)',
    })
    expect(new LengthPrefixedEncoder({ prefix: 'uint16be' }).encode(Buffer.alloc(65_535)).length).toBe(65_537)
  })

  test('options: an unknown prefix or a bad maxFrameSize is an InvalidOptionError naming the option', () => {
    expect(() => new LengthPrefixedEncoder({ prefix: 'int64' as 'varint' })).toThrow(
      new InvalidOptionError('prefix', `Cannot use prefix "int64": expected 'varint', 'uint8', 'uint16be' or 'uint32be'`),
    )
    for (const maxFrameSize of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40]) {
      expect(() => new LengthPrefixedDecoder({ maxFrameSize })).toThrow(InvalidOptionError)
    }
    expect(() => lengthPrefixedFrames(stream([]), { maxFrameSize: -1 })).toThrow(
      'Cannot use maxFrameSize -1: expected a whole number from 0 to 4294967296',
    )
    expect(() => decodeLengthPrefixed({ prefix: 'uint24be' as 'uint8' })).toThrow(InvalidOptionError)
    expect(() => encodeLengthPrefixed({ maxFrameSize: -1 })).toThrow(InvalidOptionError)
    expect(DEFAULT_MAX_FRAME_SIZE).toBe(4 * 1024 * 1024)
  })
})

describe('LengthPrefixedDecoder', () => {
  test('hands out every frame a chunk completes, as views of the chunk; a frame split between chunks is copied once', () => {
    const decoder = new LengthPrefixedDecoder({ prefix: 'uint16be' })
    const chunk = bytes(0, 1, 0x61, 0, 0, 0, 2, 0x62, 0x63, 0, 3, 0x64)
    const frames = decoder.decode(chunk)
    expect(hex(frames)).toEqual(['61', '', '6263'])
    expect(frames.every((frame) => frame.length === 0 || isViewOf(frame, chunk))).toBe(true)
    expect(decoder.buffered).toBe(3)
    expect(decoder.inFrame).toBe(true)
    const next = bytes(0x65, 0x66, 0, 1)
    const [split] = decoder.decode(next)
    expect(hex([split as Buffer])).toEqual(['646566'])
    expect(isViewOf(split as Buffer, next)).toBe(false)
    expect(decoder.buffered).toBe(2)
    // A frame whose prefix ended one chunk and whose bytes are all in the next: a view.
    const last = bytes(0x67)
    expect(isViewOf(decoder.decode(last)[0] as Buffer, last)).toBe(true)
    expect(decoder.inFrame).toBe(false)
    expect(decoder.end()).toEqual([])
  })

  test('refuses a length over maxFrameSize from the prefix alone, with the length in the message', () => {
    const decoder = new LengthPrefixedDecoder({ prefix: 'uint32be' })
    const frames: Buffer[] = []
    // 9,000,000 = 0x00895440; only the prefix is sent.
    expect(() => decoder.decode(bytes(0, 0, 0, 1, 0x61, 0x00, 0x89, 0x54, 0x40), frames)).toThrow(
      'Cannot read a frame: its length prefix says 9000000 bytes, more than maxFrameSize 4194304',
    )
    expect(hex(frames)).toEqual(['61'])
    expect(() => decoder.decode(bytes(0))).toThrow(FrameTooLargeError)
    expect(() => decoder.end()).toThrow(FrameTooLargeError)
  })

  test('a varint that does not end within 8 bytes, is not in its shortest form or says more than 2^53 - 1 is malformed, shown in hex', () => {
    const cases: [Buffer, string][] = [
      [Buffer.alloc(8, 0x80), 'Cannot read a frame: its varint length prefix (80 80 80 80 80 80 80 80) does not end within 8 bytes'],
      [bytes(0x81, 0x00), 'Cannot read a frame: its varint length prefix (81 00) is not in its shortest form'],
      [
        bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
        'Cannot read a frame: its varint length prefix (ff ff ff ff ff ff ff 7f) says 72057594037927940 bytes, more than 2^53 - 1',
      ],
    ]
    for (const [prefix, message] of cases) {
      const decoder = new LengthPrefixedDecoder()
      // Byte by byte: the prefix is judged across chunks too.
      let error: unknown
      try {
        for (const byte of prefix) decoder.decode(bytes(byte))
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(MalformedFrameError)
      expect(error).toMatchObject({ code: 'SS_ERR_MALFORMED_FRAME', message, bytes: prefix })
    }
    // 2^53 - 1 itself is a length (refused as too large, not as malformed).
    expect(() => new LengthPrefixedDecoder().decode(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f))).toThrow(
      'its length prefix says 9007199254740991 bytes, more than maxFrameSize 4194304',
    )
  })

  test('a stream that ends inside a prefix or a frame is an IncompleteFrameError saying how far it got', () => {
    const inFixed = new LengthPrefixedDecoder({ prefix: 'uint32be' })
    inFixed.decode(bytes(0, 0))
    expect(() => inFixed.end()).toThrow(
      new IncompleteFrameError('Cannot read a frame: the stream ended after 2 of the 4 bytes of its uint32be length prefix (00 00)', {
        expected: undefined,
        prefix: bytes(0, 0),
        partial: bytes(),
      }),
    )
    const inVarint = new LengthPrefixedDecoder()
    inVarint.decode(bytes(0x81))
    expect(() => inVarint.end()).toThrow('Cannot read a frame: the stream ended inside its varint length prefix, after 1 byte (81)')
    const inFrame = new LengthPrefixedDecoder({ prefix: 'uint16be' })
    inFrame.decode(bytes(0, 10, 1, 2))
    inFrame.decode(bytes(3))
    let error: unknown
    try {
      inFrame.end()
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({
      name: 'IncompleteFrameError',
      code: 'SS_ERR_INCOMPLETE_FRAME',
      message: 'Cannot read a frame: the stream ended after 3 of its 10 bytes',
      expected: 10,
      prefix: bytes(0, 10),
      partial: bytes(1, 2, 3),
    })
  })
})

describe('lengthPrefixedFrames(), lengthPrefixedBatches(), decodeLengthPrefixed(), encodeLengthPrefixed()', () => {
  test('a batch per chunk that completes frames; the frames before a bad one come first, then the error', async () => {
    const source = [bytes(1, 0x61, 1), bytes(0x62, 2, 0x63, 0x64, 0), bytes(), bytes(3, 0x65)]
    expect((await collect(lengthPrefixedBatches(stream(source.slice(0, 3))))).map(hex)).toEqual([['61'], ['62', '6364', '']])
    const failed = await until(lengthPrefixedBatches(stream(source)))
    expect(failed.items.map(hex)).toEqual([['61'], ['62', '6364', '']])
    expect(failed.error).toBeInstanceOf(IncompleteFrameError)
    const malformed = await until(lengthPrefixedFrames(stream([bytes(1, 0x61, 0x80, 0x00, 1, 0x62)])))
    expect(hex(malformed.items)).toEqual(['61'])
    expect(malformed.error).toBeInstanceOf(MalformedFrameError)
  })

  test('in a pipe: frames in, replies out, a batch of replies as one chunk', async () => {
    const encoder = new LengthPrefixedEncoder({ prefix: 'uint16be' })
    const input = encoder.encodeBatch(['one', 'two', 'three'])
    const replies = await pipe(
      stream([input.subarray(0, 4), input.subarray(4)]),
      decodeLengthPrefixed({ prefix: 'uint16be' }),
      async function* (frames) {
        for await (const frame of frames) yield frame.toString().toUpperCase()
        yield ['a', 'b']
      },
      encodeLengthPrefixed({ prefix: 'uint16be' }),
      (source: AsyncIterable<Buffer>) => collect(source),
    )
    expect(replies.map((chunk) => chunk.toString('hex'))).toEqual([
      encoder.encode('ONE').toString('hex'),
      encoder.encode('TWO').toString('hex'),
      encoder.encode('THREE').toString('hex'),
      encoder.encodeBatch(['a', 'b']).toString('hex'),
    ])
  })

  test('reads from an iterable of chunks too, and a next() while one waits gets the next frame in order', async () => {
    const iterator = lengthPrefixedFrames([bytes(1, 0x61), bytes(1, 0x62, 1, 0x63)])
    const results = await Promise.all([iterator.next(), iterator.next(), iterator.next(), iterator.next()])
    expect(results.map((result) => (result.done === true ? 'done' : result.value.toString()))).toEqual(['a', 'b', 'c', 'done'])
    // After a failure, as an async generator: the error once, then done.
    const failing = lengthPrefixedFrames([bytes(1, 0x61, 0x80, 0x00)])
    const settled = await Promise.allSettled([failing.next(), failing.next(), failing.next()])
    expect(settled.map((result) => (result.status === 'rejected' ? result.reason.name : JSON.stringify(result.value.done)))).toEqual([
      'false',
      'MalformedFrameError',
      'true',
    ])
  })

  test('leaving the loop early returns the source; a bad frame does too; a failing source is not returned', async () => {
    const returned: string[] = []
    async function* source(name: string, chunks: Buffer[], failure?: Error): AsyncGenerator<Uint8Array> {
      try {
        yield* chunks
        if (failure !== undefined) throw failure
        yield* [bytes(1, 0x7a)] // never reached in these cases
      } finally {
        returned.push(name)
      }
    }
    for await (const frame of lengthPrefixedFrames(source('break', [bytes(1, 0x61, 1, 0x62)]))) {
      expect(frame.toString()).toBe('a')
      break
    }
    await until(lengthPrefixedFrames(source('malformed', [bytes(0x80, 0x00)])))
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    const failed = await until(lengthPrefixedFrames(source('fails', [bytes(1, 0x61)], reset)))
    expect(hex(failed.items)).toEqual(['61'])
    expect(failed.error).toBe(reset)
    // A generator that threw has run its finally already: all three are done, each once.
    expect(returned).toEqual(['break', 'malformed', 'fails'])
  })

  test('signal: aborted before, no read and the reason; aborted during, the reason as the next chunk arrives', async () => {
    let reads = 0
    async function* counted(): AsyncGenerator<Uint8Array> {
      for (;;) {
        reads++
        yield bytes(1, 0x61)
      }
    }
    const before = new AbortController()
    before.abort(new Error('stop'))
    const early = await until(lengthPrefixedFrames(counted(), { signal: before.signal }))
    expect(early).toEqual({ items: [], error: before.signal.reason })
    expect(reads).toBe(0)
    const during = new AbortController()
    const seen: Buffer[] = []
    const late = await until(
      (async function* () {
        for await (const frame of lengthPrefixedBatches(counted(), { signal: during.signal })) {
          seen.push(...frame)
          if (seen.length === 3) during.abort(new Error('enough'))
          yield frame
        }
      })(),
    )
    expect(seen.length).toBe(3)
    expect(late.error).toBe(during.signal.reason)
  })
})

describe('FrameWriter', () => {
  test('writes each frame encoded in one piece, and a batch as one; a frame too large is refused before anything is written', async () => {
    const target = new ReplyBuffer()
    const writer = new FrameWriter(target, new LengthPrefixedEncoder({ prefix: 'uint8' }))
    expect(await writer.write('ab')).toBe(3)
    expect(await writer.writeBatch(['c', bytes(0xff)])).toBe(4)
    expect(await writer.writeBatch([])).toBe(0)
    await expect(writer.writeBatch(['ok', Buffer.alloc(256)])).rejects.toBeInstanceOf(FrameTooLargeError)
    await expect(writer.write(Buffer.alloc(256))).rejects.toBeInstanceOf(FrameTooLargeError)
    expect(Buffer.from(target.bytes)).toEqual(bytes(2, 0x61, 0x62, 1, 0x63, 1, 0xff))
  })
})
