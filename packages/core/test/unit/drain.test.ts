import { DrainTimeoutError, type Request, ServerStoppingError } from '@socketserver/core'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { Drain } from '../../src/internal/drain.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A request as far as the drain sees it: what it was told, and whether it was aborted. */
function fakeRequest(name: string) {
  const seen: { name: string; stopped: unknown[]; aborted: unknown[] } = { name, stopped: [], aborted: [] }
  const request = {
    stop: (reason: unknown) => seen.stopped.push(reason),
    abort: (reason: unknown) => seen.aborted.push(reason),
  } as unknown as Request
  return { request, seen }
}

describe('Drain', () => {
  test('the stop tells every running request once and one that starts later at its start; the deadline aborts what is left', async () => {
    const drain = new Drain<Request>(1_000)
    const early = fakeRequest('early')
    const late = fakeRequest('late')
    drain.started(early.request)
    expect(drain.beginStop()).toBe(true)
    expect(drain.beginStop()).toBe(false)
    drain.started(late.request)
    expect(early.seen.stopped).toHaveLength(1)
    expect(early.seen.stopped[0]).toBeInstanceOf(ServerStoppingError)
    expect(late.seen.stopped).toEqual(early.seen.stopped)
    expect(early.seen.aborted).toEqual([])
    vi.advanceTimersByTime(1_000)
    expect(drain.forced).toBeInstanceOf(DrainTimeoutError)
    expect(early.seen.aborted).toEqual([drain.forced])
    expect(late.seen.aborted).toEqual([drain.forced])
    // After force, a request that starts is aborted at once.
    const after = fakeRequest('after')
    drain.started(after.request)
    expect(after.seen.aborted).toEqual([drain.forced])
    drain.dispose()
  })

  test('untilIdle() resolves once the last running request ended; a request being verified counts', async () => {
    const drain = new Drain<Request>(1_000)
    const verifying = fakeRequest('verifying')
    const running = fakeRequest('running')
    drain.add(verifying.request)
    drain.started(running.request)
    expect(drain.size).toBe(2)
    let idle = false
    const waiting = drain.untilIdle().then(() => {
      idle = true
    })
    drain.ended(running.request)
    await Promise.resolve()
    expect(idle).toBe(false)
    drain.delete(verifying.request)
    await waiting
    expect(drain.size).toBe(0)
    await drain.untilIdle()
    drain.dispose()
  })

  test('within() waits for the work, but no longer than the deadline', async () => {
    const drain = new Drain<Request>(500)
    await expect(drain.within(Promise.resolve())).resolves.toBe(true)
    const never = new Promise<void>(() => {})
    const waiting = drain.within(never)
    vi.advanceTimersByTime(500)
    await expect(waiting).resolves.toBe(false)
    await expect(drain.within(Promise.resolve())).resolves.toBe(false)
    drain.dispose()
  })
})
