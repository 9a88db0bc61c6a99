import { InvalidOptionError, type SocketAddress } from '@socketserver/core'
import { DuplicateCache } from '@socketserver/oncrpc'
import { describe, expect, test } from 'vitest'

const reply = (size: number) => new Uint8Array(size)
const from = (port: number, host = '127.0.0.1'): SocketAddress => ({ transport: 'udp', host, port, family: 'IPv4' })
/** A call's first words: xid, CALL, 2, program, version, procedure. */
function call(xid: number, procedure = 1, length = 40): Uint8Array {
  const bytes = new Uint8Array(length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, xid)
  view.setUint32(8, 2)
  view.setUint32(12, 100_003)
  view.setUint32(16, 3)
  if (length >= 24) view.setUint32(20, procedure)
  return bytes
}

describe('DuplicateCache', () => {
  test('a copy of a running call is dropped; of an answered one, answered again', () => {
    const cache = new DuplicateCache()
    expect(cache.begin(from(1), call(7)).kind).toBe('new')
    expect(cache.begin(from(1), call(7)).kind).toBe('running')
    cache.end(from(1), call(7), reply(8))
    expect(cache.begin(from(1), call(7))).toEqual({ kind: 'answered', reply: reply(8) })
    expect(cache.hits).toBe(2)
  })

  test('a call that ended without a reply is forgotten', () => {
    const cache = new DuplicateCache()
    cache.begin(from(1), call(7))
    cache.end(from(1), call(7), undefined)
    expect(cache.size).toBe(0)
    expect(cache.begin(from(1), call(7)).kind).toBe('new')
  })

  test('is bounded in entries and in bytes, oldest first', () => {
    const cache = new DuplicateCache({ maxEntries: 2, maxBytes: 100 })
    for (const xid of [1, 2, 3]) {
      cache.begin(from(1), call(xid))
      cache.end(from(1), call(xid), reply(10))
    }
    expect(cache.size).toBe(2)
    expect(cache.begin(from(1), call(1)).kind).toBe('new') // evicted, and now takes the oldest slot (2)
    cache.end(from(1), call(1), reply(95)) // 10 + 95 > 100: 3 goes
    expect(cache.size).toBe(1)
    expect(cache.begin(from(1), call(1)).kind).toBe('answered')
    expect(cache.begin(from(1), call(3)).kind).toBe('new')
  })

  test('a reply older than ttlMs is not served', () => {
    const cache = new DuplicateCache({ ttlMs: 0 })
    cache.begin(from(1), call(7))
    cache.end(from(1), call(7), reply(4))
    const start = performance.now()
    while (performance.now() === start) {} // the clock moves on
    expect(cache.begin(from(1), call(7)).kind).toBe('new')
  })

  test('tells calls apart by sender, xid, length and procedure', () => {
    const cache = new DuplicateCache()
    cache.begin(from(1), call(7))
    cache.end(from(1), call(7), reply(4))
    expect(cache.begin(from(2), call(7)).kind).toBe('new')
    expect(cache.begin(from(1, '127.0.0.2'), call(7)).kind).toBe('new')
    expect(cache.begin(from(1), call(8)).kind).toBe('new')
    expect(cache.begin(from(1), call(7, 2)).kind).toBe('new')
    expect(cache.begin(from(1), call(7, 1, 44)).kind).toBe('new')
    expect(cache.begin(from(1), call(7)).kind).toBe('answered')
    expect(cache.begin({ transport: 'unix-dgram', path: '/tmp/a' }, call(7)).kind).toBe('new')
  })

  test('many calls of one xid from many senders, evicted in any order', () => {
    const cache = new DuplicateCache({ maxEntries: 8 })
    for (let port = 0; port < 20; port++) {
      expect(cache.begin(from(port), call(1)).kind).toBe('new')
      cache.end(from(port), call(1), reply(1))
    }
    expect(cache.size).toBe(8)
    for (let port = 12; port < 20; port++) expect(cache.begin(from(port), call(1)).kind).toBe('answered')
    expect(cache.begin(from(3), call(1)).kind).toBe('new')
  })

  test('refuses bad bounds', () => {
    expect(() => new DuplicateCache({ maxEntries: 0 })).toThrow(InvalidOptionError)
    expect(() => new DuplicateCache({ ttlMs: -1 })).toThrow(InvalidOptionError)
  })
})

describe('DuplicateCache under churn (property)', () => {
  test('a reply that sends the arena back to its start evicts the replies it writes over', () => {
    const cache = new DuplicateCache({ maxBytes: 100 })
    const sizes = [70, 5, 25, 40, 65]
    sizes.forEach((size, xid) => {
      cache.begin(from(1), call(xid))
      cache.end(from(1), call(xid), new Uint8Array(size).fill(xid + 1))
    })
    sizes.forEach((size, xid) => {
      const found = cache.begin(from(1), call(xid))
      if (found.kind === 'answered') expect([...found.reply]).toEqual(new Array(size).fill(xid + 1))
      else cache.end(from(1), call(xid), undefined)
    })
  })

  test('an answered copy is always the reply its call got, whatever was evicted', async () => {
    const fc = (await import('fast-check')).default
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 8, max: 64 }),
        fc.array(
          fc.record({
            xid: fc.integer({ min: 0, max: 9 }),
            port: fc.integer({ min: 0, max: 2 }),
            size: fc.integer({ min: 1, max: 20 }),
            forget: fc.boolean(),
          }),
          { maxLength: 200 },
        ),
        (maxEntries, maxBytes, steps) => {
          const cache = new DuplicateCache({ maxEntries, maxBytes })
          const sent = new Map<string, number[]>()
          for (const step of steps) {
            const key = `${step.port}/${step.xid}`
            const found = cache.begin(from(step.port), call(step.xid))
            if (found.kind === 'answered') {
              expect([...found.reply]).toEqual(sent.get(key))
              continue
            }
            if (found.kind === 'running') continue
            const bytes = Array.from({ length: step.size }, (_, i) => (step.xid * 31 + step.port * 7 + i + step.size) & 0xff)
            if (step.forget) {
              cache.end(from(step.port), call(step.xid), undefined)
              sent.delete(key)
            } else {
              cache.end(from(step.port), call(step.xid), Uint8Array.from(bytes))
              sent.set(key, bytes)
            }
            expect(cache.size).toBeLessThanOrEqual(maxEntries)
          }
        },
      ),
    )
  })
})
