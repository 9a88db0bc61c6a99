// The PostgreSQL engine against a real server of its own (the testing
// kit's startPostgres(): initdb into a temporary directory, a Unix socket
// only). Tests fail, never skip, when it cannot start.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { formatAddress } from '@socketserver/core'
import {
  enqueueJobs,
  JobTable,
  type JobTableOptions,
  LeaseLostError,
  PostgresEngine,
  redactPassword,
  type TableJob,
} from '@socketserver/jobs'
import {
  describeJobSourceCompliance,
  type PostgresServer,
  registerCleanup,
  serveInBackground,
  startPostgres,
  until,
} from '@socketserver/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

let db: PostgresServer

beforeAll(async () => {
  db = await startPostgres()
  await db.psql('CREATE TABLE ledger (job_id BIGINT, attempt INT, worker INT)')
}, 60_000)

afterAll(() => db?.stop())

/** A table on its own queue, so that tests sharing the server do not meet. */
async function openTable(options: Partial<JobTableOptions> = {}): Promise<JobTable> {
  const table = await JobTable.open({ url: db.url, queue: `q-${randomUUID()}`, retryBackoff: { baseMs: 0 }, ...options })
  registerCleanup(() => table.close())
  return table
}

describeJobSourceCompliance('JobTable on PostgreSQL', async () => {
  const queue = `q-${randomUUID()}`
  const table = await openTable({ queue })
  const reader = await openTable({ queue })
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

describe('JobTable on PostgreSQL', () => {
  test('its address is the URL without the password', async () => {
    const table = await openTable()
    expect(formatAddress(table.address)).toBe(db.url)
    expect(redactPassword('postgres://app:s3cret@db.example/jobs')).toBe('postgres://app@db.example/jobs')
  })

  test('an idle worker is woken by NOTIFY: a job added elsewhere runs at once, not at the next poll', async () => {
    const queue = `q-${randomUUID()}`
    // A poll of an hour: only the notification can wake it within the deadline.
    const worker = await openTable({ queue, pollIntervalMs: 3_600_000 })
    const producer = await openTable({ queue })
    const serving = serveInBackground(worker, (job) => job.data)
    // Let the worker claim once and find nothing, so that it waits.
    await until(() => worker.stats.received === 0)
    const id = await producer.enqueue('wake up')
    await until(async () => (await producer.job(id))?.state === 'done')
    await serving.stop()
  })

  test("enqueueJobs() in the caller's transaction: the jobs exist if it commits, never if it rolls back", async () => {
    const queue = `q-${randomUUID()}`
    const table = await openTable({ queue })
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    await client.query('BEGIN')
    await enqueueJobs(client, [{ data: 'rolled back', queue }])
    await client.query('ROLLBACK')
    await client.query('BEGIN')
    const [id] = await enqueueJobs(client, [{ data: 'committed', queue }])
    expect((await table.counts()).pending).toBe(0)
    await client.query('COMMIT')
    await client.end()
    expect(await table.counts()).toMatchObject({ pending: 1 })
    expect((await table.job(id as string))?.data).toBe('committed')
  })

  test('onDone() statements commit with the done, in the same transaction', async () => {
    const table = await openTable()
    const id = await table.enqueue({ n: 5 })
    const serving = serveInBackground(table, (job: TableJob) => {
      job.onDone((tx) => tx.query('INSERT INTO ledger (job_id, attempt) VALUES ($1, $2)', [job.id, job.attempt]))
      return 'ok'
    })
    await until(async () => (await table.job(id))?.state === 'done')
    expect((await db.psql(`SELECT attempt FROM ledger WHERE job_id = ${id}`)).trim()).toBe('1')
    await serving.stop()
  })

  test('a database restart while serving: the running job is recorded once the server is back, and later jobs run', async () => {
    const table = await openTable({ leaseMs: 20_000 })
    const release: Array<() => void> = []
    const running = await table.enqueue('held across the restart')
    const serving = serveInBackground(table, async (job) => {
      if (job.data === 'held across the restart') await new Promise<void>((resolve) => release.push(resolve))
      return `${job.data} done`
    })
    await until(() => release.length === 1)
    await db.restart()
    for (const resolve of release) resolve()
    await until(async () => (await table.job(running).catch(() => undefined))?.state === 'done', 30_000)
    const later = await table.enqueue('after')
    await until(async () => (await table.job(later).catch(() => undefined))?.state === 'done', 30_000)
    expect(await table.job(running)).toMatchObject({ attempts: 1, result: 'held across the restart done' })
    await serving.stop()
  }, 60_000)
})

describe('the PostgreSQL engine, directly', () => {
  test('a give-back replayed after the job was claimed again (its reply lost) cannot release the new claim', async () => {
    const engine = new PostgresEngine(db.url)
    registerCleanup(() => engine.close())
    await engine.migrate()
    const queue = `q-${randomUUID()}`
    const [id] = await engine.enqueue([{ data: 'x', queue }], 3)
    const [first] = await engine.claim(queue, 'w', 1, 10_000)
    const claim = { id: id as string, attempt: 1, worker: 'w', token: first?.claimToken as string }
    await engine.finish(claim, { state: 'given-back', delayMs: 0 }, [])
    const [second] = await engine.claim(queue, 'w', 1, 10_000)
    // The same job, the same attempt (a give-back is not counted), a new claim.
    expect([second?.id, second?.attempt]).toEqual([id, 1])
    expect(second?.claimToken).not.toBe(first?.claimToken)
    await expect(engine.finish(claim, { state: 'given-back', delayMs: 0 }, [])).rejects.toBeInstanceOf(LeaseLostError)
    expect(await engine.job(id as string)).toMatchObject({ state: 'running', attempts: 1 })
  })

  test('the LISTEN connection comes back once after a restart, and close() leaves none', async () => {
    const listeners = async (): Promise<number> =>
      Number((await db.psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`)).trim())
    const before = await listeners()
    const engine = new PostgresEngine(db.url)
    await engine.migrate()
    expect(await listeners()).toBe(before + 1)
    const pid = (await db.psql(`SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' ORDER BY backend_start DESC LIMIT 1`)).trim()
    await db.psql(`SELECT pg_terminate_backend(${pid})`)
    await until(
      async () => (await listeners()) === before + 1 && !(await db.psql('SELECT pid FROM pg_stat_activity')).includes(pid),
      20_000,
    )
    await engine.close()
    await until(async () => (await listeners()) === before)
  })

  test('enqueue refuses a maxAttempts or delayMs the table cannot hold, and keeps fractions of a millisecond', async () => {
    const table = await openTable()
    await expect(table.enqueue(1, { maxAttempts: 2.5 })).rejects.toThrow(/maxAttempts 2.5: expected a whole number from 1/)
    await expect(table.enqueue(1, { delayMs: -1 })).rejects.toThrow(/delayMs -1/)
    await expect(table.enqueue(1, { delayMs: Number.POSITIVE_INFINITY })).rejects.toThrow(/delayMs Infinity/)
    const id = await table.enqueue(1, { delayMs: 1.5 })
    expect((await table.job(id))?.state).toBe('pending')
  })
})

const workerScript = fileURLToPath(new URL('../fixtures/table-worker.mjs', import.meta.url))

describe('many workers on one PostgreSQL table', () => {
  test('4 worker processes claim with SKIP LOCKED: 400 jobs, each exactly once by the ledger; a SIGKILLed worker costs only a retry', async () => {
    const queue = 'default'
    await db.psql(`DELETE FROM socketserver_jobs WHERE queue = '${queue}'`).catch(() => {})
    await db.psql('DELETE FROM ledger')
    const table = await openTable({ queue })
    const workers: ChildProcess[] = []
    const lines: string[] = []
    for (let n = 0; n < 4; n++) {
      const child = spawn(process.execPath, [workerScript, db.url, '1000'], { stdio: ['ignore', 'pipe', 'inherit'] })
      registerCleanup(() => child.kill('SIGKILL'))
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => lines.push(`${n} ${line}`))
      workers.push(child)
    }
    await until(() => lines.filter((line) => line.endsWith(' ready')).length === 4, 30_000)
    const victim = await table.enqueue({ sleepMs: 60_000 }, { maxAttempts: 3 })
    await until(() => lines.some((line) => line.endsWith(`started ${victim} 1`)), 20_000)
    const holder = Number((lines.find((line) => line.endsWith(`started ${victim} 1`)) as string).split(' ')[0])
    // Its second attempt is short.
    await db.psql(`UPDATE socketserver_jobs SET data = '{"sleepMs":0}' WHERE id = ${victim}`)
    workers[holder]?.kill('SIGKILL')
    await table.enqueueMany(Array.from({ length: 400 }, (_, n) => ({ data: { n } })))
    await until(async () => (await table.counts()).done === 401, 60_000)
    const runs = (await db.psql('SELECT count(*), count(DISTINCT job_id) FROM ledger')).trim()
    expect(runs).toBe('401|401')
    expect(await table.job(victim)).toMatchObject({ state: 'done', attempts: 2 })
    for (const child of workers) child.kill('SIGTERM')
  }, 90_000)
})
