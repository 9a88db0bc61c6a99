import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { formatAddress, OutcomeNotRecordedError, pooled } from '@socketserver/core'
import { JobTable, JobTableError, LeaseLostError, SqliteEngine, type TableJob } from '@socketserver/jobs'
import { describeJobSourceCompliance, registerCleanup, serveInBackground, until } from '@socketserver/testing'
import Database from 'better-sqlite3'
import { describe, expect, test } from 'vitest'

function tempDatabase(): string {
  return join(mkdtempSync(join(tmpdir(), 'socketserver-jobs-')), 'jobs.db')
}

async function openTable(path = tempDatabase(), options: Partial<Parameters<typeof JobTable.open>[0]> = {}): Promise<JobTable> {
  const table = await JobTable.open({ url: `sqlite:${path}`, retryBackoff: { baseMs: 0 }, pollIntervalMs: 20, ...options })
  registerCleanup(() => table.close())
  return table
}

describeJobSourceCompliance('JobTable on SQLite', async () => {
  const path = tempDatabase()
  const table = await openTable(path)
  // Reads through a table of its own, which outlives the one served.
  const reader = await openTable(path)
  return {
    source: table,
    enqueue: (data, options) => table.enqueue(data, options),
    job: async (id) => {
      const job = await reader.job(id)
      if (job === undefined) throw new Error(`Cannot find job ${id}`)
      return job
    },
  }
})

describe('JobTable on SQLite', () => {
  test('its address is the URL; a URL of another kind is refused clearly', async () => {
    const path = tempDatabase()
    const table = await openTable(path)
    expect(formatAddress(table.address)).toBe(`sqlite:${path}`)
    await expect(JobTable.open({ url: 'mysql://db/jobs' })).rejects.toThrow(/expected sqlite:PATH or postgres:/)
    await expect(JobTable.open({ url: 'sqlite:/nonexistent-dir/x/jobs.db' })).rejects.toBeInstanceOf(JobTableError)
  })

  test('data that JSON cannot hold is refused at enqueue; a result it cannot hold fails the job, saying so', async () => {
    const table = await openTable()
    await expect(table.enqueue(() => 1)).rejects.toThrow(/must be a JSON value/)
    const id = await table.enqueue({ big: true }, { maxAttempts: 1 })
    const serving = serveInBackground(table, () => ({ n: 10n }))
    await until(async () => (await table.job(id))?.state === 'failed')
    expect((await table.job(id))?.error).toMatch(/the result is not a JSON value/)
    await serving.stop()
  })

  test("onDone() statements commit with the job's done; one that throws leaves the job to run again", async () => {
    const path = tempDatabase()
    const table = await openTable(path, { leaseMs: 300 })
    const side = new Database(path)
    side.exec('CREATE TABLE ledger (job_id TEXT, attempt INTEGER, worker INTEGER)')
    const id = await table.enqueue({ n: 1 }, { maxAttempts: 3 })
    const serving = serveInBackground(table, async (job: TableJob) => {
      job.onDone((tx) => tx.query('INSERT INTO ledger (job_id, attempt) VALUES (?, ?)', [job.id, job.attempt]))
      if (job.attempt === 1) job.onDone((tx) => tx.query('INSERT INTO no_such_table VALUES (1)'))
      return job.attempt
    })
    await until(async () => (await table.job(id))?.state === 'done', 15_000)
    expect(side.prepare('SELECT job_id, attempt FROM ledger').all()).toEqual([{ job_id: id, attempt: 2 }])
    expect((await table.job(id))?.result).toBe(2)
    await serving.stop()
    expect(serving.errors.some((error) => error instanceof OutcomeNotRecordedError)).toBe(true)
    side.close()
  })

  test('a job longer than its lease keeps it (the heartbeat renews it); a job whose lease is taken is aborted with LeaseLostError', async () => {
    const path = tempDatabase()
    const table = await openTable(path, { leaseMs: 300 })
    const long = await table.enqueue({ long: true })
    const aborted: unknown[] = []
    const serving = serveInBackground(table, async (job: TableJob) => {
      if ((job.data as { stolen?: boolean }).stolen) {
        await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }))
        aborted.push(job.signal.reason)
        return
      }
      // Five leases long: only renewals keep it.
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      return 'finished'
    })
    await until(async () => (await table.job(long))?.state === 'done', 15_000)
    expect(await table.job(long)).toMatchObject({ attempts: 1, result: 'finished' })
    const stolen = await table.enqueue({ stolen: true })
    await until(async () => (await table.job(stolen))?.state === 'running')
    // Another worker takes it over: its claim is no longer this worker's.
    const side = new Database(path)
    side.prepare(`UPDATE socketserver_jobs SET locked_by = 'another' WHERE id = ?`).run(Number(stolen))
    side.close()
    await until(() => aborted.length === 1, 15_000)
    expect(aborted[0]).toBeInstanceOf(LeaseLostError)
    await serving.stop()
  })
})

describe('JobTable on SQLite, claims of the same job by one worker', () => {
  test('a worker that stalled past its lease and claimed the job again: the old attempt is aborted, the new one keeps its lease', async () => {
    const path = tempDatabase()
    const table = await openTable(path, { leaseMs: 60 })
    const id = await table.enqueue({ n: 1 })
    const first = (await table[Symbol.asyncIterator]().next()).value as TableJob
    // The event loop blocked past the lease (a synchronous stretch of a handler): no renewal could run.
    const blockedUntil = Date.now() + 150
    while (Date.now() < blockedUntil) {}
    const second = (await table[Symbol.asyncIterator]().next()).value as TableJob
    expect([first.id, first.attempt, second.id, second.attempt]).toEqual([id, 1, id, 2])
    await until(() => first.signal.aborted)
    expect(first.signal.reason).toBeInstanceOf(LeaseLostError)
    expect(second.signal.aborted).toBe(false)
    first.complete('stale')
    await expect(first.close()).rejects.toBeInstanceOf(OutcomeNotRecordedError)
    // The new attempt's lease is still renewed after the old one ended.
    const side = new Database(path, { readonly: true })
    const leaseOf = (): number =>
      (side.prepare('SELECT lease_until FROM socketserver_jobs WHERE id = ?').get(Number(id)) as { lease_until: number }).lease_until
    const seen = leaseOf()
    await until(() => leaseOf() > seen + 60)
    expect(second.signal.aborted).toBe(false)
    second.complete('fresh')
    await second.close()
    expect(await table.job(id)).toMatchObject({ state: 'done', result: 'fresh', attempts: 2 })
    side.close()
  })

  test("an onDone() statement that waits for the table itself fails the commit after 5 s, instead of holding the table's connection forever", async () => {
    const table = await openTable()
    const id = await table.enqueue({ n: 1 }, { maxAttempts: 1 })
    const job = (await table[Symbol.asyncIterator]().next()).value as TableJob
    job.onDone(async () => {
      await table.enqueue({ followUp: true })
    })
    job.complete('ok')
    await expect(job.close()).rejects.toThrow(/onDone\(\) statements took longer than 5000 ms/)
    // The connection is free again: the follow-up went in, outside the rolled-back transaction.
    expect(await table.counts()).toEqual({ pending: 1, running: 1, done: 0, failed: 0 })
    expect((await table.job(id))?.state).toBe('running')
  })
})

test('SQLite: a give-back replayed after the job was claimed again cannot release the new claim; bad maxAttempts and delayMs are refused', async () => {
  const engine = new SqliteEngine(tempDatabase())
  registerCleanup(() => engine.close())
  await engine.migrate()
  const [id] = await engine.enqueue([{ data: 'x' }], 3)
  const [first] = await engine.claim('default', 'w', 1, 10_000)
  const claim = { id: id as string, attempt: 1, worker: 'w', token: first?.claimToken as string }
  await engine.finish(claim, { state: 'given-back', delayMs: 0 }, [])
  const [second] = await engine.claim('default', 'w', 1, 10_000)
  expect([second?.id, second?.attempt]).toEqual([id, 1])
  expect(second?.claimToken).not.toBe(first?.claimToken)
  await expect(engine.finish(claim, { state: 'given-back', delayMs: 0 }, [])).rejects.toBeInstanceOf(LeaseLostError)
  expect(await engine.job(id as string)).toMatchObject({ state: 'running', attempts: 1 })
  const table = await openTable()
  await expect(table.enqueue(1, { maxAttempts: 0 })).rejects.toThrow(/maxAttempts 0/)
  await expect(table.enqueue(1, { delayMs: Number.NaN })).rejects.toThrow(/delayMs NaN/)
})

const worker = fileURLToPath(new URL('../fixtures/table-worker.mjs', import.meta.url))

/** Starts a worker process over the table at `path`; resolves once it serves. */
async function startWorker(path: string, leaseMs: number, lines: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [worker, `sqlite:${path}`, String(leaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  registerCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  reader.on('line', (line) => lines.push(line))
  await until(() => lines.includes('ready') || child.exitCode !== null, 20_000)
  if (child.exitCode !== null) throw new Error(`Cannot start a worker: it exited with ${child.exitCode}`)
  return child
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}

describe('one SQLite file, several processes', () => {
  test('4 worker processes do 400 jobs, each exactly once by the ledger', async () => {
    const path = tempDatabase()
    const table = await openTable(path)
    const side = new Database(path)
    side.exec('CREATE TABLE ledger (job_id TEXT, attempt INTEGER, worker INTEGER)')
    const workers = await Promise.all([0, 1, 2, 3].map(() => startWorker(path, 10_000, [])))
    await table.enqueueMany(Array.from({ length: 400 }, (_, n) => ({ data: { n } })))
    await until(async () => (await table.counts()).done === 400, 30_000)
    const ledger = side.prepare('SELECT job_id, count(*) AS runs FROM ledger GROUP BY job_id').all() as Array<{ runs: number }>
    expect(ledger).toHaveLength(400)
    expect(ledger.every((row) => row.runs === 1)).toBe(true)
    for (const child of workers) child.kill('SIGTERM')
    await Promise.all(workers.map(exited))
    side.close()
  })

  test('a worker SIGKILLed mid-job: its job runs again, with attempt 2, once the lease ends', async () => {
    const path = tempDatabase()
    const table = await openTable(path)
    const side = new Database(path)
    side.exec('CREATE TABLE ledger (job_id TEXT, attempt INTEGER, worker INTEGER)')
    const id = await table.enqueue({ sleepMs: 60_000 }, { maxAttempts: 3 })
    const firstLines: string[] = []
    const first = await startWorker(path, 300, firstLines)
    await until(() => firstLines.includes(`started ${id} 1`), 20_000)
    first.kill('SIGKILL')
    await exited(first)
    // The job is long: let the second attempt be short.
    side.prepare(`UPDATE socketserver_jobs SET data = '{"sleepMs":0}' WHERE id = ?`).run(Number(id))
    const second = await startWorker(path, 300, [])
    await until(async () => (await table.job(id))?.state === 'done', 20_000)
    expect(await table.job(id)).toMatchObject({ attempts: 2, error: expect.stringMatching(/stopped renewing the lease/) })
    expect(side.prepare('SELECT attempt FROM ledger').all()).toEqual([{ attempt: 2 }])
    second.kill('SIGTERM')
    await exited(second)
    side.close()
  })
})

test('pooled() over a table claims in batches no larger than its free slots', async () => {
  const table = await openTable(undefined, { claimBatch: 2 })
  await table.enqueueMany(Array.from({ length: 10 }, (_, n) => ({ data: n })))
  const serving = serveInBackground(table, (job) => job.data, { policy: pooled({ concurrency: 4 }) })
  await until(async () => (await table.counts()).done === 10)
  await serving.stop()
  expect(table.stats).toMatchObject({ received: 10, done: 10, unrecorded: 0 })
})
