import { InvalidOptionError } from '@socketserver/core'
import { DuplicateCache } from '@socketserver/oncrpc'
import { describe, expect, test } from 'vitest'

const reply = (size: number) => new Uint8Array(size)

describe('DuplicateCache', () => {
  test('a copy of a running call is dropped; of an answered one, answered again', () => {
    const cache = new DuplicateCache()
    expect(cache.begin('a').kind).toBe('new')
    expect(cache.begin('a').kind).toBe('running')
    cache.end('a', reply(8))
    expect(cache.begin('a')).toEqual({ kind: 'answered', reply: reply(8) })
    expect(cache.hits).toBe(2)
  })

  test('a call that ended without a reply is forgotten', () => {
    const cache = new DuplicateCache()
    cache.begin('a')
    cache.end('a', undefined)
    expect(cache.size).toBe(0)
    expect(cache.begin('a').kind).toBe('new')
  })

  test('is bounded in entries and in bytes, oldest first', () => {
    const cache = new DuplicateCache({ maxEntries: 2, maxBytes: 100 })
    for (const key of ['a', 'b', 'c']) {
      cache.begin(key)
      cache.end(key, reply(10))
    }
    expect(cache.size).toBe(2)
    expect(cache.begin('a').kind).toBe('new') // evicted
    cache.end('a', reply(95)) // 10 + 95 > 100: "c" goes... and b before it
    expect(cache.size).toBe(1)
    expect(cache.begin('a').kind).toBe('answered')
  })

  test('a reply older than ttlMs is not served', () => {
    const cache = new DuplicateCache({ ttlMs: 0 })
    cache.begin('a')
    cache.end('a', reply(4))
    const start = performance.now()
    while (performance.now() === start) {} // the clock moves on
    expect(cache.begin('a').kind).toBe('new')
  })

  test('keys tell calls apart by sender, xid, length and header', () => {
    const call = (xid: number, procedure: number) => {
      const bytes = new Uint8Array(40)
      const view = new DataView(bytes.buffer)
      view.setUint32(0, xid)
      view.setUint32(20, procedure)
      return bytes
    }
    const keys = new Set([
      DuplicateCache.keyOf('127.0.0.1:1', call(1, 1)),
      DuplicateCache.keyOf('127.0.0.1:2', call(1, 1)),
      DuplicateCache.keyOf('127.0.0.1:1', call(2, 1)),
      DuplicateCache.keyOf('127.0.0.1:1', call(1, 2)),
    ])
    expect(keys.size).toBe(4)
  })

  test('refuses bad bounds', () => {
    expect(() => new DuplicateCache({ maxEntries: 0 })).toThrow(InvalidOptionError)
    expect(() => new DuplicateCache({ ttlMs: -1 })).toThrow(InvalidOptionError)
  })
})
