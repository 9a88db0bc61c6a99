import { pooled, sequential } from '@socketserver/core'
import { ConcurrencyProbe, Gate } from '@socketserver/testing'
import { pipe } from 'it-pipe'
import { describe, expect, test } from 'vitest'
import { AcceptQueue } from '../../src/servers/accept-queue.js'

/** A source that counts how many items were pulled from it. */
function countingSource(count: number): { source: AsyncIterable<number>; pulled: () => number } {
  let pulled = 0
  return {
    pulled: () => pulled,
    source: (async function* () {
      for (let i = 0; i < count; i++) {
        pulled++
        yield i
      }
    })(),
  }
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of source) items.push(item)
  return items
}

describe('sequential()', () => {
  test('runs one request at a time, in order, pulling the next only after the current finished', async () => {
    const { source, pulled } = countingSource(3)
    const probe = new ConcurrencyProbe()
    const gates = [new Gate(), new Gate(), new Gate()]
    const run = async (n: number): Promise<number> => {
      probe.enter()
      await gates[n]?.wait()
      probe.exit()
      return n
    }
    const outcomes = pipe(source, sequential()(run), collect)
    await probe.waitUntil((_, entered) => entered === 1)
    expect(pulled()).toBe(1)
    gates[0]?.open()
    await probe.waitUntil((_, entered) => entered === 2)
    expect(pulled()).toBe(2)
    gates[1]?.open()
    gates[2]?.open()
    expect(await outcomes).toEqual([0, 1, 2])
    expect(probe.peak).toBe(1)
  })
})

describe('pooled()', () => {
  test('runs up to its concurrency at once and pulls nothing more until a slot frees', async () => {
    const { source, pulled } = countingSource(10)
    const probe = new ConcurrencyProbe()
    const gate = new Gate()
    const run = async (n: number): Promise<number> => {
      probe.enter()
      await gate.wait()
      probe.exit()
      return n
    }
    const outcomes = pipe(source, pooled({ concurrency: 3 })(run), collect)
    await probe.waitUntil((current) => current === 3)
    expect(pulled()).toBe(3)
    gate.open()
    const results = (await outcomes) as number[]
    expect(results.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(probe.peak).toBe(3)
  })

  test('yields outcomes as requests finish, not in arrival order', async () => {
    const gates = [new Gate(), new Gate()]
    const run = async (n: number): Promise<number> => {
      await gates[n]?.wait()
      return n
    }
    const iterator = pooled({ concurrency: 2 })(run)(countingSource(2).source)[Symbol.asyncIterator]()
    const first = iterator.next()
    gates[1]?.open()
    expect(await first).toEqual({ done: false, value: 1 })
    gates[0]?.open()
    expect(await iterator.next()).toEqual({ done: false, value: 0 })
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
  })

  test('with blockOnClose false, ends when the source ends without waiting for running requests', async () => {
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    const run = async (n: number): Promise<number> => {
      probe.enter()
      await gate.wait()
      probe.exit()
      return n
    }
    const outcomes = await pipe(countingSource(2).source, pooled({ concurrency: 4, blockOnClose: false })(run), collect)
    expect(outcomes).toEqual([])
    expect(probe.current).toBe(2)
    gate.open()
    await probe.waitUntil((current) => current === 0)
  })
})

describe('pooled() outcomes, discarded', () => {
  test('after discardOutcomes() every request still runs, iteration yields nothing and ends when they are done', async () => {
    const { source } = countingSource(50)
    const ran: number[] = []
    const gate = new Gate()
    const run = async (n: number): Promise<number> => {
      await gate.wait()
      ran.push(n)
      return n
    }
    const outcomes = pooled({ concurrency: 4 })(run)(source)
    outcomes.discardOutcomes?.()
    const seen = collect(outcomes)
    gate.open()
    expect(await seen).toEqual([])
    expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})

describe('pooled() with requests that end inside their start', () => {
  test('a run that settles at once (an aborted datagram) never makes it pull twice: every item runs once, none after return()', async () => {
    const queue = new AcceptQueue<number>(100)
    const started: number[] = []
    const run = Object.assign(async (n: number): Promise<number> => n, {
      runWithCallbacks: (n: number, settled: (outcome: number) => void): void => {
        started.push(n)
        settled(n)
      },
    })
    const outcomes = pooled({ concurrency: 3 })(run)(queue)
    outcomes.discardOutcomes?.()
    // Queued before the first pull: the pooled loop takes them in one go.
    for (let i = 0; i < 10; i++) queue.push(i)
    const iterator = outcomes[Symbol.asyncIterator]()
    const ended = iterator.next()
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await iterator.return?.()
    await expect(ended).resolves.toMatchObject({ done: true })
    // A pull left registered by mistake would take (and run) this one.
    queue.push(10)
    expect(started).toHaveLength(10)
    expect(queue.size).toBe(1)
  })
})

describe("pooled()'s pulls say how many requests it could start", () => {
  test('the room is the free slots, an unread outcome holding its slot like a running request', async () => {
    const rooms: number[] = []
    let deliver: ((result: IteratorResult<number, undefined>) => void) | undefined
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<number, undefined>>(() => {}),
        takeLater: (give: (result: IteratorResult<number, undefined>) => void, room?: number) => {
          rooms.push(room ?? 1)
          deliver = give
        },
      }),
    }
    const release: Array<() => void> = []
    const outcomes = pooled({ concurrency: 4 })((n: number) => new Promise<number>((resolve) => release.push(() => resolve(n))))(source)[
      Symbol.asyncIterator
    ]()
    const first = outcomes.next()
    for (const n of [1, 2, 3]) deliver?.({ done: false, value: n })
    expect(rooms).toEqual([4, 3, 2, 1])
    release.shift()?.()
    await expect(first).resolves.toEqual({ done: false, value: 1 })
    // Two finish and nobody reads their outcomes: their slots stay taken.
    release.shift()?.()
    release.shift()?.()
    await Promise.resolve()
    deliver?.({ done: false, value: 4 })
    // One running, two outcomes unread: one slot is free, not two.
    expect(rooms).toEqual([4, 3, 2, 1, 1])
    for (const resolve of release.splice(0)) resolve()
    await outcomes.return?.()
  })
})
