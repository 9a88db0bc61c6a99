import {
  forked,
  HandlerError,
  handleRequest,
  type JobOutcome,
  type JobRequest,
  JobSource,
  OutcomeNotRecordedError,
  pooled,
  RequestTimeoutError,
  type SourceAddress,
  serve,
  WorkerCrashedError,
} from '@socketserver/core'
import { BaseRequestHandler } from '@socketserver/handlers'
import { MemoryJobSource, serveInBackground, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url)

describe('jobs served in this process', () => {
  test("a BaseRequestHandler's handle() return value is the job's result", async () => {
    const source = await MemoryJobSource.start()
    const id = source.enqueue({ name: 'ada' })
    class Greet extends BaseRequestHandler<JobRequest> {
      override async handle() {
        return `hello ${(this.request.data as { name: string }).name} (${this.clientAddress.name})`
      }
    }
    const serving = serveInBackground(source, Greet)
    await source.settled()
    expect(source.job(id)).toMatchObject({ state: 'done', result: 'hello ada (memory:jobs)' })
    await serving.stop()
    expect(serving.errors).toEqual([])
  })

  test('handleRequest() serves exactly one job', async () => {
    const source = await MemoryJobSource.start()
    const first = source.enqueue(1)
    const second = source.enqueue(2)
    await handleRequest(source, (job: JobRequest) => (job.data as number) + 10)
    expect(source.job(first)).toMatchObject({ state: 'done', result: 11 })
    expect(source.job(second)?.state).toBe('pending')
  })

  test('a handler that records its outcome itself keeps it: the first outcome stays', async () => {
    const source = await MemoryJobSource.start()
    const done = source.enqueue('done early')
    const failed = source.enqueue('fail softly', { maxAttempts: 1 })
    const serving = serveInBackground(source, (job: JobRequest) => {
      if (job.data === 'done early') {
        job.complete('early')
        throw new Error('after the outcome: reported, not recorded')
      }
      job.fail(new Error('soft failure'))
      return 'not the result'
    })
    await source.settled()
    expect(source.job(done)).toMatchObject({ state: 'done', result: 'early' })
    expect(source.job(failed)).toMatchObject({ state: 'failed', error: 'soft failure' })
    await serving.stop()
    expect(serving.errors).toHaveLength(1)
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
  })

  test('stats count what was handed out and recorded', async () => {
    const source = await MemoryJobSource.start()
    source.enqueue('ok')
    source.enqueue('bad', { maxAttempts: 1 })
    const serving = serveInBackground(source, (job: JobRequest) => {
      if (job.data === 'bad') throw new Error('bad')
      return 'fine'
    })
    await source.settled()
    await serving.stop()
    expect(source.stats).toMatchObject({ received: 2, done: 1, failed: 1, givenBack: 0, unrecorded: 0, waiting: 0 })
  })
})

/** A source whose store fails on demand, and whose claims fail on demand: the faults of a database. */
class FlakySource extends JobSource {
  readonly jobs: Array<{ id: string; data: unknown }> = []
  readonly recorded: Array<[string, JobOutcome['state']]> = []
  /** What each claim asked for. */
  readonly asked: number[] = []
  failClaims = 0
  failRecords = false
  /** While set, claims wait for it. */
  claimGate: Promise<void> | undefined
  #wake: (() => void) | undefined

  constructor() {
    super({})
  }

  add(id: string, data: unknown): void {
    this.jobs.push({ id, data })
    this.wakeClaims()
  }

  protected async connect(): Promise<SourceAddress> {
    return { transport: 'source', name: 'flaky:test' }
  }

  protected async claim(count: number) {
    this.asked.push(count)
    await this.claimGate
    if (this.failClaims > 0) {
      this.failClaims--
      throw new Error('the database is unreachable')
    }
    return this.jobs.splice(0, count).map((job) => ({ ...job, attempt: 1, maxAttempts: 1 }))
  }

  protected waitForJobs(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
      signal.addEventListener('abort', () => resolve(), { once: true })
    })
  }

  protected async record(job: { id: string }, outcome: JobOutcome): Promise<void> {
    if (this.failRecords) throw new Error('the connection dropped')
    this.recorded.push([job.id, outcome.state])
  }

  protected async disconnect(): Promise<void> {
    this.#wake?.()
  }
}

describe('a source whose database fails', () => {
  test('a claim that fails is reported to handleError and retried', async () => {
    const source = new FlakySource()
    await source.start()
    source.failClaims = 2
    source.add('1', 'x')
    const serving = serveInBackground(source, () => 'ok')
    await until(() => source.recorded.length === 1)
    await serving.stop()
    await source.close()
    expect(source.stats.claimFailures).toBe(2)
    expect(serving.errors.map((error) => (error as Error).message)).toEqual(['the database is unreachable', 'the database is unreachable'])
  })

  test('an outcome that cannot be stored is reported as OutcomeNotRecordedError, never silently', async () => {
    const source = new FlakySource()
    await source.start()
    source.failRecords = true
    source.add('7', 'x')
    const serving = serveInBackground(source, () => 'ok')
    await until(() => serving.errors.length === 1)
    await serving.stop()
    await source.close()
    const error = serving.errors[0] as OutcomeNotRecordedError
    expect(error).toBeInstanceOf(OutcomeNotRecordedError)
    expect(error).toMatchObject({ jobId: '7', state: 'done', code: 'SS_ERR_OUTCOME_NOT_RECORDED' })
    expect(error.message).toBe('Cannot record job 7 of flaky:test as done: the connection dropped')
    expect(source.stats.unrecorded).toBe(1)
  })

  test('jobs claimed for a consumer that left meanwhile go back at once, not into a queue nobody reads', async () => {
    const source = new FlakySource()
    await source.start()
    for (let n = 0; n < 8; n++) source.add(String(n), n)
    let open: () => void = () => {}
    source.claimGate = new Promise<void>((resolve) => {
      open = resolve
    })
    const iterator = source[Symbol.asyncIterator]()
    const delivered: unknown[] = []
    iterator.takeLater?.((result) => delivered.push(result), 8)
    await until(() => source.asked.length === 1)
    expect(source.asked).toEqual([8])
    await iterator.return?.()
    open()
    await until(() => source.recorded.length === 8)
    expect(source.recorded.every(([, state]) => state === 'given-back')).toBe(true)
    expect(source.stats).toMatchObject({ waiting: 0, givenBack: 8 })
    expect(delivered).toEqual([{ done: true, value: undefined }])
    await source.close()
  })

  test('jobs claimed but not taken are given back on close', async () => {
    const source = new FlakySource()
    await source.start()
    const iterator = source[Symbol.asyncIterator]()
    source.add('1', 'a')
    const first = iterator.next()
    const job = (await first).value as JobRequest
    await source.close()
    expect(source.closed).toBe(true)
    await expect(job.close()).rejects.toBeInstanceOf(OutcomeNotRecordedError)
  })
})

describe('jobs under forked()', () => {
  test("each job runs in a child; its result, written text, and give-back reach the parent's source", async () => {
    const source = await MemoryJobSource.start()
    const doubled = source.enqueue({ action: 'double', n: 21 })
    const written = source.enqueue({ action: 'write' })
    const givenBack = source.enqueue({ action: 'give-back' })
    const policy = forked({ module: fixture('jobs.mjs'), maxChildren: 2 })
    const controller = new AbortController()
    const serving = serve(source, null, { policy, signal: controller.signal })
    await until(() => source.job(doubled)?.state === 'done' && source.job(written)?.state === 'done')
    const result = source.job(doubled)?.result as { doubled: number; pid: number; attempt: number }
    expect(result.doubled).toBe(42)
    expect(result.attempt).toBe(1)
    expect(result.pid).not.toBe(process.pid)
    expect(source.job(written)?.result).toBe(`line from ${written}`)
    // Given back each time it runs: it never ends, and never counts an attempt.
    await until(() => (source.stats.givenBack ?? 0) >= 2)
    expect(source.job(givenBack)?.attempts).toBeLessThanOrEqual(1)
    controller.abort()
    await serving
    expect(source.job(givenBack)).toMatchObject({ state: 'pending', attempts: 0 })
  })

  test('a child that crashes fails its job, which runs again with attempt 2', async () => {
    const source = await MemoryJobSource.start()
    const id = source.enqueue({ action: 'crash-first' }, { maxAttempts: 2 })
    const serving = serveInBackground(source, null, { policy: forked({ module: fixture('jobs.mjs'), maxChildren: 1 }) })
    await source.settled()
    expect(source.job(id)).toMatchObject({ state: 'done', result: 'survived', attempts: 2 })
    await serving.stop()
    expect(serving.errors.some((error) => error instanceof WorkerCrashedError)).toBe(true)
  })

  test('a throw in the child fails the job with its message', async () => {
    const source = await MemoryJobSource.start()
    const thrown = source.enqueue({ action: 'throw' }, { maxAttempts: 1 })
    const serving = serveInBackground(source, null, { policy: forked({ module: fixture('jobs.mjs'), maxChildren: 1 }) })
    await source.settled()
    expect(source.job(thrown)).toMatchObject({ state: 'failed', error: expect.stringContaining('no luck on attempt 1') })
    await serving.stop()
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
  })

  test('a job that hangs in its child is cut off by timeoutMs and fails with the timeout', async () => {
    const source = await MemoryJobSource.start()
    const hung = source.enqueue({ action: 'hang' }, { maxAttempts: 1 })
    const serving = serveInBackground(source, null, { policy: forked({ module: fixture('jobs.mjs'), maxChildren: 1 }), timeoutMs: 300 })
    await source.settled()
    expect(source.job(hung)).toMatchObject({ state: 'failed', error: expect.stringContaining('longer than 300 ms') })
    await serving.stop()
    expect(serving.errors.some((error) => error instanceof RequestTimeoutError)).toBe(true)
  })

  test('a result that cannot cross to the parent fails the job, saying why', async () => {
    const source = await MemoryJobSource.start()
    const id = source.enqueue({ action: 'uncloneable' }, { maxAttempts: 1 })
    const serving = serveInBackground(source, null, { policy: forked({ module: fixture('jobs.mjs'), maxChildren: 1 }) })
    await source.settled()
    expect(source.job(id)).toMatchObject({ state: 'failed', error: expect.stringContaining("Cannot hand the job's result to the parent") })
    await serving.stop()
  })

  test('many jobs through pooled children are each done once', async () => {
    const source = await MemoryJobSource.start()
    const ids = Array.from({ length: 40 }, (_, n) => source.enqueue({ action: 'double', n }))
    const serving = serveInBackground(source, null, {
      policy: forked({ module: fixture('jobs.mjs'), maxChildren: 2, childConcurrency: 4 }),
    })
    await source.settled()
    expect(ids.map((id) => (source.job(id)?.result as { doubled: number } | undefined)?.doubled)).toEqual(ids.map((_, n) => n * 2))
    expect(source.jobs().every((job) => job.attempts === 1)).toBe(true)
    await serving.stop()
    expect(serving.errors).toEqual([])
  })
})

test('pooled() claims no more than its free slots', async () => {
  const source = await MemoryJobSource.start()
  for (let n = 0; n < 10; n++) source.enqueue(n)
  const release: Array<() => void> = []
  const serving = serveInBackground(source, () => new Promise<void>((resolve) => release.push(resolve)), {
    policy: pooled({ concurrency: 3 }),
  })
  await until(() => release.length === 3)
  expect(source.jobs().filter((job) => job.state === 'running')).toHaveLength(3)
  for (const resolve of release.splice(0)) resolve()
  await until(() => release.length === 3)
  expect(source.jobs().filter((job) => job.state === 'done')).toHaveLength(3)
  for (;;) {
    for (const resolve of release.splice(0)) resolve()
    if (source.jobs().every((job) => job.state === 'done')) break
    await until(() => release.length > 0 || source.jobs().every((job) => job.state === 'done'))
  }
  await serving.stop()
})

test("pooled() claims its free slots' worth of jobs in one claim, and never more", async () => {
  const source = new FlakySource()
  await source.start()
  for (let n = 0; n < 20; n++) source.add(String(n), n)
  const release: Array<() => void> = []
  const serving = serveInBackground(source, () => new Promise<void>((resolve) => release.push(resolve)), {
    policy: pooled({ concurrency: 8 }),
  })
  await until(() => release.length === 8)
  // One claim for the eight free slots (it was one claim per slot, one after the other).
  expect(source.asked).toEqual([8])
  expect(source.jobs).toHaveLength(12)
  for (const resolve of release.splice(0, 3)) resolve()
  await until(() => release.length === 8)
  expect(source.jobs).toHaveLength(9)
  expect(source.asked.every((count) => count <= 8)).toBe(true)
  while (source.recorded.length < 20) {
    for (const resolve of release.splice(0)) resolve()
    await until(() => release.length > 0 || source.recorded.length === 20)
  }
  await serving.stop()
  await source.close()
  expect(serving.errors).toEqual([])
})
