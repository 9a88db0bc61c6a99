import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { AcceptQueue } from '../../src/servers/accept-queue.js'
import { WaitWatch } from '../../src/servers/wait-watch.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A queue and its watch, recording what the watch reports as `slow:item@ms` and `expired:item@ms`. */
function watched(slowWaitMs: number, maxWaitMs = Number.POSITIVE_INFINITY) {
  const queue = new AcceptQueue<string>(1_000)
  const reports: string[] = []
  const watch = new WaitWatch(
    queue,
    slowWaitMs,
    maxWaitMs,
    (item, waitedMs) => reports.push(`slow:${item}@${Math.round(waitedMs)}`),
    (item, waitedMs) => reports.push(`expired:${item}@${Math.round(waitedMs)}`),
  )
  const queueItem = (item: string): void => {
    expect(queue.push(item)).toBe(true)
    watch.queued()
  }
  return { queue, watch, reports, queueItem }
}

describe('WaitWatch (#16)', () => {
  test('sets one timer however many items wait, and none before an item is queued', () => {
    const { queueItem } = watched(1_000)
    expect(vi.getTimerCount()).toBe(0)
    for (let i = 0; i < 100; i++) queueItem(`item${i}`)
    expect(vi.getTimerCount()).toBe(1)
  })

  test('reports each item once, in order, when it has waited slowWaitMs and still waits', () => {
    const { reports, queueItem } = watched(1_000)
    queueItem('a')
    vi.advanceTimersByTime(400)
    queueItem('b')
    vi.advanceTimersByTime(599)
    expect(reports).toEqual([])
    vi.advanceTimersByTime(1)
    expect(reports).toEqual(['slow:a@1000'])
    vi.advanceTimersByTime(400)
    expect(reports).toEqual(['slow:a@1000', 'slow:b@1000'])
    // Both reported and no maxWaitMs: nothing left to watch.
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(10_000)
    expect(reports).toHaveLength(2)
  })

  test('an item taken before slowWaitMs is not reported, and the timer stops once nothing waits', async () => {
    const { queue, reports, queueItem } = watched(1_000)
    queueItem('a')
    vi.advanceTimersByTime(500)
    await expect(queue.next()).resolves.toEqual({ done: false, value: 'a' })
    // The timer is not cleared on a take: it fires once, finds nothing, and stops.
    vi.advanceTimersByTime(500)
    expect(reports).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
    queueItem('b')
    vi.advanceTimersByTime(1_000)
    expect(reports).toEqual(['slow:b@1000'])
  })

  test('takes out each item that waited maxWaitMs, oldest first, after reporting it slow', () => {
    const { queue, reports, queueItem } = watched(100, 300)
    queueItem('a')
    vi.advanceTimersByTime(50)
    queueItem('b')
    vi.advanceTimersByTime(250)
    expect(reports).toEqual(['slow:a@100', 'slow:b@100', 'expired:a@300'])
    expect(queue.size).toBe(1)
    vi.advanceTimersByTime(50)
    expect(reports).toEqual(['slow:a@100', 'slow:b@100', 'expired:a@300', 'expired:b@300'])
    expect(queue.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  test('keeps its place when items are taken in between, even by its own callback', async () => {
    const queue = new AcceptQueue<string>(10)
    const reports: string[] = []
    const watch = new WaitWatch(
      queue,
      100,
      Number.POSITIVE_INFINITY,
      (item) => {
        reports.push(item)
        // A subscriber that takes a request at once (a slot freed meanwhile).
        if (item === 'a') void queue.next()
      },
      () => {},
    )
    for (const item of ['a', 'b', 'c']) {
      queue.push(item)
      watch.queued()
    }
    vi.advanceTimersByTime(100)
    expect(reports).toEqual(['a', 'b', 'c'])
    await queue.next()
    queue.push('d')
    watch.queued()
    vi.advanceTimersByTime(100)
    expect(reports).toEqual(['a', 'b', 'c', 'd'])
  })

  test('stop() clears the timer and reports nothing more', () => {
    const { watch, reports, queueItem } = watched(100, 200)
    queueItem('a')
    watch.stop()
    expect(vi.getTimerCount()).toBe(0)
    watch.queued()
    vi.advanceTimersByTime(1_000)
    expect(reports).toEqual([])
  })

  test('its timer does not keep the process alive', () => {
    vi.useRealTimers()
    const { watch, queueItem } = watched(60_000)
    const before = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
    queueItem('a')
    // An unref'd timer is not an active resource.
    expect(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length).toBe(before)
    watch.stop()
  })
})
