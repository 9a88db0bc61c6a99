import { BufferedReader, IncompleteReadError, LineTooLongError, ReplyBuffer } from '@socketserver/handlers'
import { describe, expect, test } from 'vitest'

/** A deterministic pseudo-random generator, so failures can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

/** Splits `bytes` into chunks at random places (empty chunks included). */
function split(bytes: Uint8Array, next: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = []
  let at = 0
  while (at < bytes.length) {
    const size = Math.floor(next() * 9)
    chunks.push(bytes.subarray(at, at + size))
    at += size
  }
  return chunks
}

async function* stream(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString()

describe('BufferedReader', () => {
  test('returns exactly the bytes sent, in order, for any split of the stream into chunks', async () => {
    const next = random(42)
    for (let round = 0; round < 300; round++) {
      const input = Buffer.from(Array.from({ length: Math.floor(next() * 200) }, () => Math.floor(next() * 256)))
      const reader = new BufferedReader(stream(split(input, next)))
      const parts: Uint8Array[] = []
      for (;;) {
        const choice = next()
        const part =
          choice < 0.3
            ? await reader.read(1 + Math.floor(next() * 10))
            : choice < 0.6
              ? await reader.readline()
              : await reader.read(Math.floor(next() * 5))
        if (part.length === 0 && choice >= 0.6 && reader.buffered === 0) {
          const rest = await reader.read()
          parts.push(rest)
          break
        }
        if (part.length === 0 && choice < 0.6) break
        parts.push(part)
      }
      expect(Buffer.concat(parts).equals(input)).toBe(true)
    }
  })

  test('readline() splits any input into the same lines, whatever the chunking', async () => {
    const next = random(7)
    for (let round = 0; round < 200; round++) {
      const alphabet = 'ab\n'
      const input = Buffer.from(Array.from({ length: Math.floor(next() * 60) }, () => alphabet[Math.floor(next() * 3)]).join(''))
      const expected = input
        .toString()
        .split(/(?<=\n)/)
        .filter((line) => line.length > 0)
      const reader = new BufferedReader(stream(split(input, next)))
      const lines: string[] = []
      for await (const line of reader.lines()) lines.push(text(line))
      expect(lines).toEqual(expected)
    }
  })

  test('readline() joins a line that arrives in three fragments', async () => {
    const reader = new BufferedReader(stream([Buffer.from('hel'), Buffer.from('lo wo'), Buffer.from('rld\nnext')]))
    expect(text(await reader.readline())).toBe('hello world\n')
    expect(text(await reader.readline())).toBe('next')
    expect((await reader.readline()).length).toBe(0)
  })

  test('readline() rejects an endless line with LineTooLongError without buffering past the limit', async () => {
    let pulled = 0
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++
        yield Buffer.alloc(1_000, 0x61)
      }
    }
    const reader = new BufferedReader(endless())
    await expect(reader.readline({ maxLength: 10_000 })).rejects.toBeInstanceOf(LineTooLongError)
    expect(pulled).toBeLessThanOrEqual(11)
    expect(reader.buffered).toBe(0)
  })

  test('readline() rejects a complete line longer than maxLength', async () => {
    const reader = new BufferedReader(stream([Buffer.from('0123456789\n')]))
    await expect(reader.readline({ maxLength: 5 })).rejects.toMatchObject({ code: 'SS_ERR_LINE_TOO_LONG', maxLength: 5 })
  })

  test('an over-long line that arrived whole is dropped alone: the lines after it are still read', async () => {
    const reader = new BufferedReader(stream([Buffer.from('short\n0123456789\nnext\nlast\n')]))
    expect(text(await reader.readline({ maxLength: 8 }))).toBe('short\n')
    await expect(reader.readline({ maxLength: 8 })).rejects.toBeInstanceOf(LineTooLongError)
    expect(text(await reader.readline({ maxLength: 8 }))).toBe('next\n')
    expect(text(await reader.readline({ maxLength: 8 }))).toBe('last\n')
  })

  test('after an over-long line without a newline yet, the next readline() skips the rest of it: no desync (#15)', async () => {
    const reader = new BufferedReader(stream([Buffer.from('0123'), Buffer.from('4567'), Buffer.from('89'), Buffer.from('ab\nok\n')]))
    await expect(reader.readline({ maxLength: 6 })).rejects.toMatchObject({ lineEndSeen: false, maxLength: 6 })
    expect(text(await reader.readline({ maxLength: 6 }))).toBe('ok\n')
    expect(text(await reader.readline({ maxLength: 6 }))).toBe('')
  })

  test('LineTooLongError says whether the line end was seen', async () => {
    const whole = new BufferedReader(stream([Buffer.from('0123456789\nok\n')]))
    const error = await whole.readline({ maxLength: 6 }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(LineTooLongError)
    expect(error).toMatchObject({ lineEndSeen: true, code: 'SS_ERR_LINE_TOO_LONG' })
    expect((error as Error).message).toContain('dropped through its newline')
    expect(text(await whole.readline({ maxLength: 6 }))).toBe('ok\n')
  })

  test('after an over-long line, read() takes the rest of it as it is', async () => {
    const reader = new BufferedReader(stream([Buffer.from('0123456'), Buffer.from('89\nok\n')]))
    await expect(reader.readline({ maxLength: 6 })).rejects.toMatchObject({ lineEndSeen: false })
    expect(text(await reader.read(3))).toBe('89\n')
    expect(text(await reader.readline({ maxLength: 6 }))).toBe('ok\n')
  })

  test('leaving lines() early (break) keeps the reader usable: the next read gets the next line', async () => {
    const reader = new BufferedReader(stream([Buffer.from('one\ntwo\nthree\n')]))
    for await (const line of reader.lines()) {
      expect(text(line)).toBe('one\n')
      break
    }
    expect(text(await reader.readline())).toBe('two\n')
    const rest: string[] = []
    for await (const line of reader.lines()) rest.push(text(line))
    expect(rest).toEqual(['three\n'])
  })

  test('lines() queues a next() made while one waits, as an async generator does', async () => {
    async function* later(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('a\n')
      await new Promise((resolve) => setImmediate(resolve))
      yield Buffer.from('b\nc\n')
    }
    const iterator = new BufferedReader(later()).lines()
    const results = await Promise.all([iterator.next(), iterator.next(), iterator.next(), iterator.next()])
    expect(results.map((result) => (result.done === true ? 'DONE' : text(result.value)))).toEqual(['a\n', 'b\n', 'c\n', 'DONE'])
  })

  test('skipLine() drops through the next newline, reading as it goes, and counts what it dropped', async () => {
    const reader = new BufferedReader(stream([Buffer.from('abc'), Buffer.from('def'), Buffer.from('\nnext\nrest')]))
    expect(await reader.skipLine()).toBe(7)
    expect(text(await reader.readline())).toBe('next\n')
    expect(await reader.skipLine()).toBe(4) // to the end of the stream
    expect(await reader.skipLine()).toBe(0)
  })

  test("lines({ tooLong: 'skip' }) drops over-long lines and goes on; the default ends with LineTooLongError", async () => {
    const chunks = () => stream([Buffer.from('ok\n0123456789'), Buffer.from('0123\nfine\n'), Buffer.from('9876543210\nlast\n')])
    const skipped: string[] = []
    for await (const line of new BufferedReader(chunks()).lines({ maxLength: 8, tooLong: 'skip' })) skipped.push(text(line))
    expect(skipped).toEqual(['ok\n', 'fine\n', 'last\n'])
    const thrown: string[] = []
    const iterating = (async () => {
      for await (const line of new BufferedReader(chunks()).lines({ maxLength: 8 })) thrown.push(text(line))
    })()
    await expect(iterating).rejects.toBeInstanceOf(LineTooLongError)
    expect(thrown).toEqual(['ok\n'])
  })

  test('a last line of exactly maxLength bytes without a newline is returned; one byte more is too long', async () => {
    const exact = new BufferedReader(stream([Buffer.from('abcde')]))
    expect(text(await exact.readline({ maxLength: 5 }))).toBe('abcde')
    const longer = new BufferedReader(stream([Buffer.from('abcdef')]))
    await expect(longer.readline({ maxLength: 5 })).rejects.toBeInstanceOf(LineTooLongError)
  })

  test.each([Number.NaN, 0, -1, 2.5])('readline() refuses maxLength %s with InvalidOptionError', async (maxLength) => {
    const reader = new BufferedReader(stream([Buffer.from('line\n')]))
    await expect(reader.readline({ maxLength })).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'maxLength' })
    expect(text(await reader.readline({ maxLength: Number.POSITIVE_INFINITY }))).toBe('line\n')
  })

  test('a second readline() while one waits is refused; the first still gets its line', async () => {
    let deliver: ((chunk: Uint8Array) => void) | undefined
    async function* later(): AsyncGenerator<Uint8Array> {
      yield await new Promise<Uint8Array>((resolve) => (deliver = resolve))
    }
    const reader = new BufferedReader(later())
    const first = reader.readline()
    await expect(reader.readline()).rejects.toMatchObject({ name: 'ReadPendingError', code: 'SS_ERR_READ_PENDING' })
    // The source was asked for its chunk inside readline(): its resolver is set.
    expect(deliver).toBeDefined()
    deliver?.(Buffer.from('one\ntwo\n'))
    expect(text(await first)).toBe('one\n')
    expect(text(await reader.readline())).toBe('two\n')
  })

  test('readline() stays linear on a long line sent one byte per chunk', async () => {
    const length = 200_000
    let sent = 0
    async function* bytewise(): AsyncGenerator<Uint8Array> {
      const byte = Buffer.from('a')
      while (sent++ < length) yield byte
      yield Buffer.from('\n')
    }
    const reader = new BufferedReader(bytewise())
    // Before the fix every new byte rescanned all buffered chunks:
    // 200,000 chunks took minutes. Linear, this is well under a second.
    const line = await reader.readline({ maxLength: length + 1 })
    expect(line.length).toBe(length + 1)
    expect(line.every((byte, index) => byte === (index === length ? 0x0a : 0x61))).toBe(true)
  })

  test('readExactly() waits for all bytes, and reports a short stream with IncompleteReadError', async () => {
    const reader = new BufferedReader(stream([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('e')]))
    expect(text(await reader.readExactly(4))).toBe('abcd')
    const failure = reader.readExactly(3)
    await expect(failure).rejects.toBeInstanceOf(IncompleteReadError)
    await expect(failure).rejects.toMatchObject({ expected: 3, partial: Buffer.from('e') })
  })

  test('read(n) returns what is buffered or the next chunk; read() returns everything', async () => {
    const reader = new BufferedReader(stream([Buffer.from('abcdef'), Buffer.from('gh')]))
    expect(text(await reader.read(2))).toBe('ab')
    expect(text(await reader.read(100))).toBe('cdef')
    expect(text(await reader.read())).toBe('gh')
    expect((await reader.read(5)).length).toBe(0)
    await expect(reader.read(-1)).rejects.toBeInstanceOf(RangeError)
  })

  test('from() reads bytes in memory, and iteration yields chunks', async () => {
    const chunks: string[] = []
    for await (const chunk of BufferedReader.from(Buffer.from('one\ntwo'))) chunks.push(text(chunk))
    expect(chunks.join('')).toBe('one\ntwo')
  })
})

describe('ReplyBuffer', () => {
  test('keeps a copy of what was written: the caller may reuse its array', async () => {
    const reply = new ReplyBuffer()
    const scratch = Buffer.from('ab')
    await reply.write(scratch)
    scratch.write('cd')
    await reply.write(scratch)
    expect(Buffer.from(reply.bytes).toString()).toBe('abcd')
  })
})

test('bad options of the reader and the writer are InvalidOptionError naming the option, as in core', async () => {
  const { Socket } = await import('node:net')
  const { BufferedWriter } = await import('@socketserver/handlers')
  const { InvalidOptionError } = await import('@socketserver/core')
  const reader = BufferedReader.from(Buffer.from('a\n'))
  expect(() => reader.lines({ tooLong: 'truncate' as 'skip' })).toThrow(InvalidOptionError)
  const socket = new Socket()
  try {
    expect(() => new BufferedWriter(socket, { bufferSize: -1 })).toThrow(expect.objectContaining({ option: 'bufferSize' }))
  } finally {
    socket.destroy()
  }
})
