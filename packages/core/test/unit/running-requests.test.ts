import { describe, expect, test } from 'vitest'
import { ABORT_STATE, AbortState } from '../../src/internal/abort-state.js'
import { RunningRequests } from '../../src/internal/running-requests.js'

/** A request of ours: it carries an abort state. */
const ours = (name: string) => ({ name, [ABORT_STATE]: new AbortState() })
/** A request of another library: no abort state. */
const foreign = (name: string) => ({ name })

describe('RunningRequests', () => {
  test('keeps exactly the requests added and not yet deleted, in any order, ours and others', () => {
    const running = new RunningRequests<{ name: string }>()
    const requests = [ours('a'), foreign('b'), ours('c'), ours('d'), foreign('e'), ours('f')]
    for (const request of requests) running.add(request)
    // Delete from the middle, the end and the start: the swapped-in requests keep their slots right.
    for (const name of ['c', 'f', 'a', 'b']) running.delete(requests.find((request) => request.name === name) as { name: string })
    expect(
      running
        .snapshot()
        .map((request) => request.name)
        .sort(),
    ).toEqual(['d', 'e'])
    for (const request of requests) running.delete(request)
    expect(running.snapshot()).toEqual([])
  })

  test('adding twice or deleting what is not there changes nothing', () => {
    const running = new RunningRequests<{ name: string }>()
    const a = ours('a')
    const b = ours('b')
    running.add(a)
    running.add(a)
    running.delete(b)
    expect(running.snapshot()).toEqual([a])
    running.delete(a)
    running.delete(a)
    expect(running.snapshot()).toEqual([])
    running.add(b)
    expect(running.snapshot()).toEqual([b])
  })

  test('matches a Set under random adds and deletes', () => {
    const running = new RunningRequests<{ name: string }>()
    const model = new Set<{ name: string }>()
    const pool = Array.from({ length: 20 }, (_, index) => (index % 3 === 0 ? foreign(`r${index}`) : ours(`r${index}`)))
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let step = 0; step < 2_000; step++) {
      const request = pool[Math.floor(random() * pool.length)] as { name: string }
      if (random() < 0.5) {
        running.add(request)
        model.add(request)
      } else {
        running.delete(request)
        model.delete(request)
      }
      expect(new Set(running.snapshot())).toEqual(model)
    }
  })
})
