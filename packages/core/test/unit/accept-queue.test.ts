import { describe, expect, test } from 'vitest'
import { AcceptQueue } from '../../src/servers/accept-queue.js'

describe('AcceptQueue', () => {
  test('hands items to waiting consumers first, then queues up to its limit', async () => {
    const queue = new AcceptQueue<number>(2)
    const waiting = queue.next()
    expect(queue.push(1)).toBe(true)
    await expect(waiting).resolves.toEqual({ done: false, value: 1 })
    expect(queue.push(2)).toBe(true)
    expect(queue.push(3)).toBe(true)
    expect(queue.push(4)).toBe(false)
    expect(queue.size).toBe(2)
    await expect(queue.next()).resolves.toEqual({ done: false, value: 2 })
  })

  test('end() finishes waiting consumers and returns what was queued', async () => {
    const queue = new AcceptQueue<number>(5)
    const consumerA = new AcceptQueue<number>(5)
    const waiting = consumerA.next()
    expect(consumerA.end()).toEqual([])
    await expect(waiting).resolves.toEqual({ done: true, value: undefined })
    queue.push(1)
    queue.push(2)
    expect(queue.end()).toEqual([1, 2])
    expect(queue.push(3)).toBe(false)
    await expect(queue.next()).resolves.toEqual({ done: true, value: undefined })
  })

  test("an iterator's return() withdraws its waiting pull, so a later item is not lost", async () => {
    const queue = new AcceptQueue<number>(5)
    const iterator = queue[Symbol.asyncIterator]()
    const pending = iterator.next()
    await iterator.return?.()
    await expect(pending).resolves.toEqual({ done: true, value: undefined })
    queue.push(7)
    await expect(queue.next()).resolves.toEqual({ done: false, value: 7 })
  })

  test("an iterator's return() withdraws every pull it still has waiting, and later pulls of it get done", async () => {
    const queue = new AcceptQueue<number>(5)
    const leaving = queue[Symbol.asyncIterator]()
    const staying = queue[Symbol.asyncIterator]()
    const first = leaving.next()
    const second = leaving.next()
    await leaving.return?.()
    await expect(first).resolves.toEqual({ done: true, value: undefined })
    await expect(second).resolves.toEqual({ done: true, value: undefined })
    const served = staying.next()
    expect(queue.push(1)).toBe(true)
    await expect(served).resolves.toEqual({ done: false, value: 1 })
    expect(queue.push(2)).toBe(true)
    await expect(leaving.next()).resolves.toEqual({ done: true, value: undefined })
    expect(queue.size).toBe(1)
  })

  test('takeLater() hands a pushed item over synchronously, a queued one at once, and return() withdraws it', async () => {
    const queue = new AcceptQueue<number>(5)
    const iterator = queue[Symbol.asyncIterator]()
    const got: Array<IteratorResult<number, undefined>> = []
    iterator.takeLater?.((result) => got.push(result))
    expect(got).toEqual([])
    queue.push(1)
    // Delivered inside push(), before it returned.
    expect(got).toEqual([{ done: false, value: 1 }])
    queue.push(2)
    iterator.takeLater?.((result) => got.push(result))
    expect(got).toEqual([
      { done: false, value: 1 },
      { done: false, value: 2 },
    ])
    iterator.takeLater?.((result) => got.push(result))
    await iterator.return?.()
    expect(got.at(-1)).toEqual({ done: true, value: undefined })
    // The withdrawn pull takes nothing: a later item stays for another consumer.
    queue.push(3)
    await expect(queue.next()).resolves.toEqual({ done: false, value: 3 })
    queue.end()
    iterator.takeLater?.((result) => got.push(result))
    expect(got.at(-1)).toEqual({ done: true, value: undefined })
  })
})

describe('AcceptQueue demand', () => {
  test('sums the room each waiting pull says it has; a plain next() counts one', async () => {
    const demands: number[] = []
    const queue: AcceptQueue<number> = new AcceptQueue<number>(10, () => demands.push(queue.demand))
    const first = queue[Symbol.asyncIterator]()
    const second = queue[Symbol.asyncIterator]()
    const delivered: Array<IteratorResult<number, undefined>> = []
    first.takeLater?.((result) => delivered.push(result), 5)
    const plain = second.next()
    expect(demands).toEqual([5, 6])
    expect(queue.consumersWaiting).toBe(2)
    expect(queue.push(1)).toBe(true)
    expect(delivered).toEqual([{ done: false, value: 1 }])
    expect(queue.demand).toBe(1)
    await second.return?.()
    await expect(plain).resolves.toEqual({ done: true, value: undefined })
    expect(queue.demand).toBe(0)
  })

  test('a room below one, or not whole, counts as what a pull can take: one, or the whole part', () => {
    const queue = new AcceptQueue<number>(10, () => {})
    const iterator = queue[Symbol.asyncIterator]()
    iterator.takeLater?.(() => {}, 0)
    iterator.takeLater?.(() => {}, 2.7)
    expect(queue.demand).toBe(3)
  })

  test('a queue that does not fetch on demand (no onDemand) counts every pull as one', () => {
    const queue = new AcceptQueue<number>(10)
    queue[Symbol.asyncIterator]().takeLater?.(() => {}, 8)
    expect(queue.demand).toBe(1)
  })
})
