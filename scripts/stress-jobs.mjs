// `pnpm stress:jobs`: a table of jobs worked by 4 worker processes in two
// process groups ("machines") while workers are SIGKILLed at random and
// restarted, and (PostgreSQL) the database is restarted once. Afterwards
// every job must be done, exactly once by the ledger the workers write in
// each job's own transaction, and every extra attempt must be explained by
// a kill (its job's last error says its lease ran out) or by the restart.
//   node scripts/stress-jobs.mjs [--engine postgres|sqlite|both] [--jobs N] [--kill-every-ms M]
// N defaults to 100,000; M (the mean pause between kills) to 500.
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { oneOf, readCommandLine, wholeNumber } from './lib/args.mjs'

const { values } = readCommandLine({
  usage: `Usage: node scripts/stress-jobs.mjs [--engine postgres|sqlite|both] [--jobs N] [--kill-every-ms M]   (or: pnpm stress:jobs [...])
  --engine E          postgres, sqlite or both (default both)
  --jobs N            jobs per engine (default 100000)
  --kill-every-ms M   mean pause between SIGKILLs of a random worker (default 500)
  -h, --help          print this and exit`,
  options: {
    engine: { type: 'string', value: oneOf(['postgres', 'sqlite', 'both']), default: 'both' },
    jobs: { type: 'string', value: wholeNumber(1), default: 100_000 },
    'kill-every-ms': { type: 'string', value: wholeNumber(1), default: 500 },
  },
})
const WORKERS = 4
const CONCURRENCY = 16
// Short, so that a killed worker's jobs come back within seconds; not shorter:
// with 1 s, four processes committing to one SQLite file made renewals wait
// for the write lock past the lease (1,706 extra attempts for 92 kills).
const LEASE_MS = 3_000
const workerScript = fileURLToPath(new URL('./stress-jobs-worker.mjs', import.meta.url))
const { JobTable } = await import('@socketserver/jobs')

/**
 * Starts worker `index`; resolves once it serves. Workers 0 and 1 share this
 * process's group (the first "machine"); 2 and 3 each lead a group of their
 * own, away from this one (the second), as processes on another host would be.
 */
function startWorker(url, faults, index) {
  const child = spawn(process.execPath, [workerScript, url, String(LEASE_MS), String(CONCURRENCY)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: index >= 2,
  })
  let said = ''
  child.stderr.on('data', (chunk) => {
    said += chunk
    for (const line of String(chunk).split('\n').filter(Boolean)) faults.push(line)
  })
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`Cannot start a worker: it exited with ${code}: ${said.trim()}`)))
  }).then((started) => {
    started.removeAllListeners('exit')
    return started
  })
}

/** Enqueues the jobs, starts the workers, kills them at random until every job ended, and checks the ledger. */
async function run(engine, url, db, sql) {
  const table = await JobTable.open({ url })
  const faults = []
  const started = Date.now()
  for (let from = 0; from < values.jobs; from += 1_000) {
    const count = Math.min(1_000, values.jobs - from)
    await table.enqueueMany(Array.from({ length: count }, (_, i) => ({ data: { n: from + i } })))
  }
  const workers = await Promise.all(Array.from({ length: WORKERS }, (_, index) => startWorker(url, faults, index)))
  let kills = 0
  let restarted = false
  let killing = true
  const killer = (async () => {
    while (killing) {
      await new Promise((resolve) => setTimeout(resolve, randomInt(1, values['kill-every-ms'] * 2)))
      if (!killing) break
      const index = randomInt(0, WORKERS)
      const victim = workers[index]
      victim.kill('SIGKILL')
      await new Promise((resolve) => (victim.exitCode !== null || victim.signalCode !== null ? resolve() : victim.once('exit', resolve)))
      kills++
      workers[index] = await startWorker(url, faults, index)
    }
  })()
  let counts = await table.counts()
  for (;;) {
    counts = await table.counts().catch(() => counts)
    if (counts.done + counts.failed === values.jobs) break
    if (db !== undefined && !restarted && counts.done > values.jobs * 0.4) {
      restarted = true
      await db.restart()
    }
    if (Date.now() - started > 30 * 60_000) throw new Error(`Cannot finish: ${JSON.stringify(counts)} after 30 minutes`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const seconds = (Date.now() - started) / 1000
  killing = false
  await killer
  for (const worker of workers) worker.kill('SIGTERM')
  await Promise.all(
    workers.map((worker) => new Promise((resolve) => (worker.exitCode !== null ? resolve() : worker.once('exit', resolve)))),
  )
  const ledger = await sql(`SELECT count(*) AS runs, count(DISTINCT job_id) AS jobs FROM ledger`)
  const retried = await sql(
    `SELECT count(*) AS jobs, coalesce(sum(attempts - 1), 0) AS extra, sum(CASE WHEN last_error LIKE '%stopped renewing the lease%' THEN 1 ELSE 0 END) AS by_lease FROM socketserver_jobs WHERE attempts > 1`,
  )
  const failed = counts.failed
  await table.close()
  const row = {
    engine,
    jobs: values.jobs,
    done: counts.done,
    failed,
    seconds,
    jobsPerSecond: Math.round(counts.done / seconds),
    kills,
    databaseRestarted: restarted,
    ledgerRuns: Number(ledger.runs),
    ledgerJobs: Number(ledger.jobs),
    retriedJobs: Number(retried.jobs),
    extraAttempts: Number(retried.extra),
    retriedByLease: Number(retried.by_lease),
    faultsReported: faults.length,
  }
  // Each kill can cost at most the jobs its worker held (its pool's size); a retry that is not a lease's
  // is one whose attempt met the database's restart.
  const explained = row.retriedByLease + (restarted ? row.retriedJobs - row.retriedByLease : 0)
  row.held =
    row.done === values.jobs &&
    row.failed === 0 &&
    row.ledgerRuns === values.jobs &&
    row.ledgerJobs === values.jobs &&
    row.extraAttempts <= kills * CONCURRENCY + (restarted ? WORKERS * CONCURRENCY : 0) &&
    explained === row.retriedJobs
  console.log(JSON.stringify(row))
  return row
}

const rows = []
if (values.engine !== 'sqlite') {
  const { startPostgres } = await import('@socketserver/testing')
  const db = await startPostgres()
  try {
    await db.psql('CREATE TABLE ledger (job_id BIGINT NOT NULL, attempt INT NOT NULL, worker INT NOT NULL)')
    const sql = async (query) => {
      const [first] = (await db.psql(query)).trim().split('\n')
      const [runs, jobs, extra] = first.split('|')
      return query.includes('extra') ? { jobs: runs, extra: jobs, by_lease: extra } : { runs, jobs }
    }
    rows.push(await run('postgres', db.url, db, sql))
  } finally {
    await db.stop()
  }
}
if (values.engine !== 'postgres') {
  const dir = mkdtempSync(join(tmpdir(), 'ss-stress-jobs-'))
  try {
    const path = join(dir, 'jobs.db')
    const Database = createRequire(new URL('../packages/jobs/package.json', import.meta.url))('better-sqlite3')
    const side = new Database(path)
    side.pragma('journal_mode = WAL')
    side.exec('CREATE TABLE ledger (job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, worker INTEGER NOT NULL)')
    const sql = async (query) => side.prepare(query).get()
    rows.push(await run('sqlite', `sqlite:${path}`, undefined, sql))
    side.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const bad = rows.filter((row) => !row.held)
console.log(bad.length === 0 ? 'stress-jobs: every engine held' : `stress-jobs: did not hold: ${bad.map((row) => row.engine).join(', ')}`)
process.exitCode = bad.length === 0 ? 0 : 1
