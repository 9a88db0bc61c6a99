import { InvalidOptionError } from '@socketserver/core'
import {
  decodeLines,
  encodeLines,
  FrameTooLargeError,
  FrameWriter,
  LineDecoder,
  LineEncoder,
  LineTooLongError,
  lineBatches,
  lines,
  MalformedFrameError,
  ReplyBuffer,
  trimLineEnd,
} from '@socketserver/handlers'
import { pipe } from 'it-pipe'
import { describe, expect, test } from 'vitest'
import { stream } from '../chunked-input.js'
import { isViewOf } from './views.js'

const texts = (lines: Uint8Array[]): string[] => lines.map((line) => Buffer.from(line).toString())

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

/** `total` bytes of `byte` in chunks of `size`, then `tail`. */
function* longLine(total: number, size: number, tail: string): Generator<Uint8Array> {
  for (let sent = 0; sent < total; sent += size) yield Buffer.alloc(Math.min(size, total - sent), 0x78)
  yield Buffer.from(tail)
}

describe('lines(), lineBatches(), LineDecoder', () => {
  test('inFrame says whether part of a line is held; an over-long one being skipped does not count', () => {
    const decoder = new LineDecoder({ maxLength: 4, tooLong: 'skip' })
    expect(decoder.inFrame).toBe(false)
    decoder.decode(Buffer.from('ab'))
    expect(decoder.inFrame).toBe(true)
    decoder.decode(Buffer.from('\nabcdef'))
    // Over-long and its newline not seen: skipping, holding nothing (a stop may end it).
    expect(decoder.buffered).toBe(0)
    expect(decoder.inFrame).toBe(false)
    expect(decoder.decode(Buffer.from('gh\nok\n')).map(String)).toEqual(['ok\n'])
    expect(decoder.inFrame).toBe(false)
  })

  test('lines keep their \\n (and a \\r before it), as readline() returns them; a last line without one comes as it is', async () => {
    expect(texts(await collect(lines(stream([Buffer.from('one\ntwo\r\nthr'), Buffer.from('ee\n\nlast')]))))).toEqual([
      'one\n',
      'two\r\n',
      'three\n',
      '\n',
      'last',
    ])
    expect((await collect(lineBatches(stream([Buffer.from('a\nb\nc'), Buffer.from('d\n')])))).map(texts)).toEqual([
      ['a\n', 'b\n'],
      ['cd\n'],
    ])
  })

  test('a line within a chunk is a view of it; one sent byte by byte is joined once, whole', () => {
    const decoder = new LineDecoder()
    const chunk = Buffer.from('ab\ncd\n')
    expect(decoder.decode(chunk).every((line) => isViewOf(line, chunk))).toBe(true)
    const line = `${'y'.repeat(999)}\n`
    const found: Buffer[] = []
    for (const byte of Buffer.from(line)) decoder.decode(Buffer.from([byte]), found)
    expect(texts(found)).toEqual([line])
    expect(decoder.buffered).toBe(0)
  })

  test('an over-long line: LineTooLongError saying how many bytes came and whether its newline did; the lines before it first', async () => {
    const beforeNewline = new LineDecoder({ maxLength: 4 })
    const found: Buffer[] = []
    expect(() => beforeNewline.decode(Buffer.from('ok\nabcdef'), found)).toThrow(new LineTooLongError(4, false, 6))
    expect(texts(found)).toEqual(['ok\n'])
    expect(() => beforeNewline.decode(Buffer.from('\n'))).toThrow('Cannot read a line: 6 bytes and no newline yet, more than maxLength 4')
    let error: unknown
    try {
      new LineDecoder({ maxLength: 4 }).decode(Buffer.from('abcd\n'))
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({
      code: 'SS_ERR_LINE_TOO_LONG',
      maxLength: 4,
      lineEndSeen: true,
      seen: 5,
      message: 'Cannot read a line: 5 bytes through its newline, more than maxLength 4',
    })
    const { length } = await collect(lines(stream([Buffer.from('1234')]), { maxLength: 4 }))
    expect(length).toBe(1) // a last line of exactly maxLength bytes, without a newline, is a line
  })

  test("tooLong 'skip' drops the line through its newline, holding no more than maxLength bytes while it comes", () => {
    const decoder = new LineDecoder({ maxLength: 16, tooLong: 'skip' })
    const found: Buffer[] = []
    decoder.decode(Buffer.from('first\nxxxxxxxxxx'), found)
    for (const chunk of longLine(1_000_000, 4096, 'x\nnext\n')) {
      decoder.decode(chunk, found)
      expect(decoder.buffered).toBeLessThanOrEqual(16)
    }
    decoder.decode(Buffer.from('last'), found)
    decoder.end(found)
    expect(texts(found)).toEqual(['first\n', 'next\n', 'last'])
  })

  test('options: a bad maxLength or tooLong is an InvalidOptionError, at the call', () => {
    expect(() => new LineDecoder({ maxLength: 0 })).toThrow(
      new InvalidOptionError('maxLength', 'Cannot use maxLength 0: expected a whole number of 1 or more, or Infinity'),
    )
    expect(() => lines(stream([]), { tooLong: 'truncate' as 'skip' })).toThrow(`Cannot use tooLong "truncate": expected 'throw' or 'skip'`)
    expect(() => decodeLines({ maxLength: 2.5 })).toThrow(InvalidOptionError)
    expect(() => encodeLines({ maxLength: -1 })).toThrow(InvalidOptionError)
    expect(new LineDecoder({ maxLength: Number.POSITIVE_INFINITY }).decode(Buffer.alloc(100_000, 0x61))).toEqual([])
  })

  test('trimLineEnd() takes off \\n or \\r\\n, nothing else', () => {
    const cases = ['a\n', 'a\r\n', 'a', 'a\r', '\n', '\r\n', '', 'a\n\n']
    expect(cases.map((line) => trimLineEnd(Buffer.from(line)).toString())).toEqual(['a', 'a', 'a', 'a\r', '', '', '', 'a\n'])
  })
})

describe('LineEncoder, encodeLines()', () => {
  test('ends each line with one \\n, adding it when missing; a batch is one Buffer', () => {
    const encoder = new LineEncoder()
    expect(encoder.encode('PING').toString()).toBe('PING\n')
    expect(encoder.encode(Buffer.from('PONG\r\n')).toString()).toBe('PONG\r\n')
    expect(encoder.encode('').toString()).toBe('\n')
    expect(encoder.encodeBatch(['a\n', 'b', new Uint8Array([0x63])]).toString()).toBe('a\nb\nc\n')
  })

  test('refuses a newline before the end of a line, and a line longer than maxLength, newline included', () => {
    expect(() => new LineEncoder().encode('two\nlines')).toThrow(
      new MalformedFrameError(
        'Cannot write a line: it holds a newline at byte 3 of 9, before its end, and would be read as two lines',
        Buffer.from('two\nlines'),
      ),
    )
    expect(() => new LineEncoder().encode('é\nx')).toThrow('it holds a newline at byte 2 of 4')
    expect(() => new LineEncoder({ maxLength: 4 }).encode('four')).toThrow(
      new FrameTooLargeError('Cannot write a line of 5 bytes, its newline included: more than maxLength 4', { size: 5, limit: 4 }),
    )
    expect(new LineEncoder({ maxLength: 4 }).encode('abc\n').length).toBe(4)
  })

  test('in a pipe: lines in, replies out; a FrameWriter writes lines to a handler writer', async () => {
    const replies = await pipe(
      stream([Buffer.from('ping\npi'), Buffer.from('ng\n')]),
      decodeLines({ maxLength: 64 }),
      async function* (source) {
        for await (const line of source) yield `${trimLineEnd(line).toString().toUpperCase()}`
      },
      encodeLines(),
      (source: AsyncIterable<Buffer>) => collect(source),
    )
    expect(texts(replies)).toEqual(['PING\n', 'PING\n'])
    const target = new ReplyBuffer()
    await new FrameWriter(target, new LineEncoder()).writeBatch(['a', 'b\n'])
    expect(Buffer.from(target.bytes).toString()).toBe('a\nb\n')
  })
})
