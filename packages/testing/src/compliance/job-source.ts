/**
 * A compliance suite for sources of jobs: what every `Server<JobRequest>`
 * must do, whatever keeps its jobs.
 *
 * @module
 */

import {
  formatAddress,
  type JobRequest,
  type Policy,
  pooled,
  RequestTimeoutError,
  type Server,
  sequential,
  serve,
} from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { until } from '../events.js'
import { Gate } from '../gate.js'
import { serveInBackground } from '../listen.js'

/** A job as the suite reads it back from its source. */
export interface JobSnapshot {
  /** `pending` (waiting, or waiting to be retried), `running`, `done`, or `failed` (its last attempt failed). */
  readonly state: 'pending' | 'running' | 'done' | 'failed'
  /** Attempts made (claims not given back). */
  readonly attempts: number
  /** A done job's result. */
  readonly result?: unknown
  /** The message of the last failure, if any. */
  readonly error?: string
}

/** What the suite needs of a source under test. */
export interface JobSourceFixture {
  /** The started source. The suite closes it. */
  readonly source: Server<JobRequest>
  /**
   * Adds a job with `data` (JSON values) and resolves with its id. Failed
   * jobs must be retried at once (no back-off) for the suite to finish.
   */
  enqueue(data: unknown, options?: { maxAttempts?: number }): Promise<string>
  /**
   * Reads a job back; also after the source was closed (read through a
   * connection of the fixture's own).
   */
  job(id: string): Promise<JobSnapshot>
}

/**
 * Declares tests every source of jobs must pass: an address of transport
 * `source` and no descriptor; jobs yielded with their data, id and
 * attempt, only when a consumer waits (a job nobody asked for stays
 * pending); `serve()` recording the handler's return value (or written
 * text) as the result, a throw as a failure retried with the next attempt
 * visible, the last failure as `failed` with its message, a `timeoutMs`
 * that cuts a hanging handler off, `verifyRequest` refusing, and a stop
 * that gives a job back without counting its attempt; every job of a batch
 * done exactly once under `sequential()` and `pooled()`; `close()`
 * idempotent, ending iteration with `done`.
 *
 * @param title - The describe block's title.
 * @param start - Makes a fresh, started source with no jobs.
 * @example
 * ```ts
 * describeJobSourceCompliance('MemoryJobSource', async () => {
 *   const source = await MemoryJobSource.start()
 *   return { source, enqueue: async (data, options) => source.enqueue(data, options), job: async (id) => source.job(id)! }
 * })
 * ```
 */
export function describeJobSourceCompliance(title: string, start: () => Promise<JobSourceFixture>): void {
  describe(title, () => {
    test('has a source address and no descriptor', async () => {
      const { source } = await start()
      expect(source.address.transport).toBe('source')
      expect(formatAddress(source.address)).toBe((source.address as { name: string }).name)
      expect(source.fileno()).toBe(-1)
      await source.close()
    })

    test('yields jobs with their data, id and first attempt, enqueued before and while a consumer waits', async () => {
      const fixture = await start()
      const first = await fixture.enqueue({ n: 1 })
      const iterator = fixture.source[Symbol.asyncIterator]()
      const one = await iterator.next()
      expect(one.done).toBe(false)
      const job = one.value as JobRequest
      expect(job).toMatchObject({ kind: 'job', id: first, data: { n: 1 }, attempt: 1 })
      expect(job.clientAddress).toEqual(fixture.source.address)
      expect((await fixture.job(first)).state).toBe('running')
      const waiting = iterator.next()
      const second = await fixture.enqueue({ n: 2 })
      const two = (await waiting).value as JobRequest
      expect(two.id).toBe(second)
      job.complete('one')
      two.complete('two')
      await Promise.all([job.close(), two.close()])
      expect(await fixture.job(first)).toMatchObject({ state: 'done', result: 'one', attempts: 1 })
      await fixture.source.close()
    })

    test('claims only what consumers wait for: the other jobs stay pending', async () => {
      const fixture = await start()
      const ids = await Promise.all([1, 2, 3].map((n) => fixture.enqueue({ n })))
      const iterator = fixture.source[Symbol.asyncIterator]()
      const job = (await iterator.next()).value as JobRequest
      const states = await Promise.all(ids.map(async (id) => (await fixture.job(id)).state))
      expect(states.filter((state) => state === 'running')).toHaveLength(1)
      expect(states.filter((state) => state === 'pending')).toHaveLength(2)
      await job.close()
      await fixture.source.close()
    })

    test("serve() records the handler's return value as the result, or the text it wrote", async () => {
      const fixture = await start()
      const returned = await fixture.enqueue({ a: 2, b: 3 })
      const written = await fixture.enqueue({ text: 'hi' })
      const serving = serveInBackground(fixture.source, (job: JobRequest) => {
        const data = job.data as { a?: number; b?: number; text?: string }
        if (data.text !== undefined) {
          job.write(data.text)
          job.write(' there')
          return undefined
        }
        return { sum: (data.a ?? 0) + (data.b ?? 0) }
      })
      await until(async () => (await fixture.job(written)).state === 'done' && (await fixture.job(returned)).state === 'done')
      expect((await fixture.job(returned)).result).toEqual({ sum: 5 })
      expect((await fixture.job(written)).result).toBe('hi there')
      await serving.stop()
    })

    test('a handler that throws is retried with the next attempt visible; the last failure is final, with its message', async () => {
      const fixture = await start()
      const recovers = await fixture.enqueue({ failUntil: 2 }, { maxAttempts: 3 })
      const dies = await fixture.enqueue({ failUntil: 99 }, { maxAttempts: 2 })
      const attemptsSeen: number[] = []
      const serving = serveInBackground(
        fixture.source,
        (job: JobRequest) => {
          if (job.id === recovers) attemptsSeen.push(job.attempt)
          if (job.attempt <= (job.data as { failUntil: number }).failUntil) throw new Error(`attempt ${job.attempt} failed`)
          return 'ok'
        },
        { handleError: () => {} },
      )
      await until(async () => (await fixture.job(recovers)).state === 'done' && (await fixture.job(dies)).state === 'failed')
      expect(attemptsSeen).toEqual([1, 2, 3])
      expect(await fixture.job(recovers)).toMatchObject({ state: 'done', attempts: 3, result: 'ok' })
      const dead = await fixture.job(dies)
      expect(dead).toMatchObject({ state: 'failed', attempts: 2 })
      expect(dead.error).toContain('attempt 2 failed')
      await serving.stop()
    })

    test('timeoutMs cuts a hanging handler off and the job is retried', async () => {
      const fixture = await start()
      const id = await fixture.enqueue({}, { maxAttempts: 2 })
      const errors: unknown[] = []
      const serving = serveInBackground(
        fixture.source,
        (job: JobRequest) => {
          if (job.attempt === 1) return new Promise(() => {}) // hangs: only the timeout ends it
          return 'second'
        },
        { timeoutMs: 50, handleError: (error) => errors.push(error) },
      )
      await until(async () => (await fixture.job(id)).state === 'done')
      expect(await fixture.job(id)).toMatchObject({ attempts: 2, result: 'second' })
      expect(errors.some((error) => error instanceof RequestTimeoutError)).toBe(true)
      await serving.stop()
    })

    test('a job verifyRequest refuses fails with the refusal', async () => {
      const fixture = await start()
      const id = await fixture.enqueue({ secret: true }, { maxAttempts: 1 })
      const serving = serveInBackground(fixture.source, () => 'ran', { verifyRequest: () => false })
      await until(async () => (await fixture.job(id)).state === 'failed')
      expect((await fixture.job(id)).error).toMatch(/verifyRequest refused it/)
      await serving.stop()
    })

    test('a job whose handler leaves on the stop notice is given back, its attempt not counted', async () => {
      const fixture = await start()
      const id = await fixture.enqueue({}, { maxAttempts: 1 })
      const started = new Gate()
      const controller = new AbortController()
      const serving = serve(
        fixture.source,
        async (job: JobRequest) => {
          started.open()
          await new Promise((_, reject) => job.stopping.addEventListener('abort', () => reject(job.stopping.reason), { once: true }))
        },
        { signal: controller.signal },
      )
      await started.wait()
      controller.abort()
      await serving
      expect(await fixture.job(id)).toMatchObject({ state: 'pending', attempts: 0 })
    })

    for (const [name, policy] of [
      ['sequential()', () => sequential()],
      ['pooled({ concurrency: 4 })', () => pooled({ concurrency: 4 })],
    ] as Array<[string, () => Policy]>) {
      test(`every job of a batch is done exactly once under ${name}`, async () => {
        const fixture = await start()
        const ids = await Promise.all(Array.from({ length: 24 }, (_, n) => fixture.enqueue({ n })))
        const runs = new Map<string, number>()
        const serving = serveInBackground(
          fixture.source,
          async (job: JobRequest) => {
            runs.set(job.id, (runs.get(job.id) ?? 0) + 1)
            await Promise.resolve()
            return (job.data as { n: number }).n * 2
          },
          { policy: policy() },
        )
        await until(async () => (await Promise.all(ids.map((id) => fixture.job(id)))).every((job) => job.state === 'done'))
        expect([...runs.values()].every((count) => count === 1)).toBe(true)
        expect(runs.size).toBe(ids.length)
        const results = await Promise.all(ids.map(async (id) => (await fixture.job(id)).result))
        expect(results).toEqual(ids.map((_, n) => n * 2))
        await serving.stop()
      })
    }

    test('close() is idempotent and ends iteration with done', async () => {
      const { source } = await start()
      const iterator = source[Symbol.asyncIterator]()
      const waiting = iterator.next()
      const closing = source.close()
      expect(source.close()).toBe(closing)
      await closing
      expect(source.closed).toBe(true)
      await expect(waiting).resolves.toEqual({ done: true, value: undefined })
    })
  })
}
