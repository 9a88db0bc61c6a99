// The jobs rows of `pnpm bench`: jobs per second (claim, run a trivial
// handler, record the result) with 1, 2 and 4 worker processes, and the
// latency from enqueue to the handler starting (p50, p99, one idle
// worker), for our JobTable on PostgreSQL and on SQLite, and for pg-boss 10
// and graphile-worker 0.16 on the same private PostgreSQL server, in the
// same run. Each system's workers get the same number of jobs in flight
// (16 per process). Usable alone: node bench/jobs.mjs [--quick] [--jobs N] [--samples N] [--only NAME].
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const WORKER = fileURLToPath(new URL('./servers/jobs-worker.mjs', import.meta.url))
const CONCURRENCY = 16
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts `count` workers of `system`; resolves once all print "ready". Each reports latencies to `onLatency`. */
async function startWorkers(system, url, count, onLatency) {
  const workers = []
  for (let i = 0; i < count; i++) {
    const child = spawn(process.execPath, [WORKER, system, url, String(CONCURRENCY)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const ready = new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line === 'ready') resolve()
        else if (line.startsWith('latency ')) onLatency(Number(line.slice('latency '.length)))
      })
      child.once('exit', (code) => reject(new Error(`Cannot start a ${system} worker: it exited with ${code}`)))
    })
    workers.push({ child, ready })
  }
  await Promise.all(workers.map((worker) => worker.ready))
  return workers.map((worker) => worker.child)
}

async function stopWorkers(workers) {
  await Promise.all(
    workers.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve()
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.kill('SIGTERM')
        }),
    ),
  )
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

/**
 * The systems. `open()` empties the system's table and resolves with a
 * session: `add(jobs)` adds jobs in bulk, `finished()` counts those done,
 * `close()` lets the session go.
 */
function systems(db, sqlitePath, { JobTable, Database, count }) {
  // Every system's progress is read the same way: the jobs added less those
  // still waiting or running, counted on one open connection (no process
  // per look, and no scan of the jobs already done).
  const ours = (name, url, empty, remaining) => ({
    name,
    system: 'ours',
    url,
    async open() {
      const table = await JobTable.open({ url, queue: 'bench' })
      await empty()
      let added = 0
      return {
        add: async (jobs) => {
          for (let from = 0; from < jobs.length; from += 5_000) {
            const batch = jobs.slice(from, from + 5_000)
            await table.enqueueMany(batch.map((data) => ({ data })))
            added += batch.length
          }
        },
        finished: async () => added - (await remaining()),
        close: () => table.close(),
      }
    },
  })
  const sqliteRemaining = () => {
    const file = new Database(sqlitePath, { readonly: true })
    try {
      return file.prepare(`SELECT count(*) AS n FROM socketserver_jobs WHERE state IN ('pending', 'running')`).get().n
    } finally {
      file.close()
    }
  }
  return [
    ours(
      'ours, PostgreSQL',
      db.url,
      () => db.psql('TRUNCATE socketserver_jobs'),
      () => count(`SELECT count(*) FROM socketserver_jobs WHERE state IN ('pending', 'running')`),
    ),
    ours(
      'ours, SQLite',
      `sqlite:${sqlitePath}`,
      async () => {
        const file = new Database(sqlitePath)
        file.exec('DELETE FROM socketserver_jobs')
        file.close()
      },
      async () => sqliteRemaining(),
    ),
    {
      name: 'pg-boss 10.4.2',
      system: 'pg-boss',
      url: db.url,
      async open() {
        const { default: PgBoss } = await import('pg-boss')
        const boss = new PgBoss({ connectionString: db.url, supervise: false, schedule: false })
        boss.on('error', () => {})
        await boss.start()
        await boss.createQueue('bench')
        await db.psql(`DELETE FROM pgboss.job WHERE name = 'bench'`)
        await db.psql('VACUUM ANALYZE pgboss.job')
        let added = 0
        return {
          add: async (jobs) => {
            for (let from = 0; from < jobs.length; from += 5_000) {
              const batch = jobs.slice(from, from + 5_000)
              await boss.insert(batch.map((data) => ({ name: 'bench', data })))
              added += batch.length
            }
          },
          finished: async () =>
            added - (await count(`SELECT count(*) FROM pgboss.job WHERE name = 'bench' AND state IN ('created', 'retry', 'active')`)),
          close: () => boss.stop({ graceful: false, wait: true }),
        }
      },
    },
    {
      name: 'graphile-worker 0.16.6',
      system: 'graphile-worker',
      url: db.url,
      async open() {
        const { Logger, runMigrations } = await import('graphile-worker')
        await runMigrations({ connectionString: db.url, logger: new Logger(() => () => {}) })
        await db.psql('TRUNCATE graphile_worker._private_jobs CASCADE')
        let added = 0
        return {
          add: async (jobs) => {
            for (let from = 0; from < jobs.length; from += 5_000) {
              const batch = jobs.slice(from, from + 5_000)
              const payloads = JSON.stringify(batch).replaceAll("'", "''")
              await db.psql(
                `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(SELECT ROW('trivial', p, null, null, null, null, null, null)::graphile_worker.job_spec FROM json_array_elements('${payloads}'::json) p))`,
              )
              added += batch.length
            }
          },
          // Done jobs are deleted: the finished ones are those added and gone.
          finished: async () => added - (await count('SELECT count(*) FROM graphile_worker._private_jobs')),
          close: async () => {},
        }
      },
    },
  ]
}

/** Runs the jobs bench; resolves with its rows. `quick`: fewer jobs and samples. */
export async function benchJobs({ quick = false, log = console.log, jobs: jobCount, samples: sampleCount, only } = {}) {
  const { startPostgres } = await import('@socketserver/testing')
  const { JobTable } = await import('@socketserver/jobs')
  const { createRequire } = await import('node:module')
  const Database = createRequire(new URL('../packages/jobs/package.json', import.meta.url))('better-sqlite3')
  const jobs = jobCount ?? (quick ? 2_000 : 20_000)
  const samples = sampleCount ?? (quick ? 20 : 100)
  const db = await startPostgres()
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-jobs-'))
  const rows = []
  const { default: pg } = await import('pg')
  const counter = new pg.Client({ connectionString: db.url })
  await counter.connect()
  const count = async (sql) => Number((await counter.query(sql)).rows[0].count)
  try {
    // Each worker count in turn for every system, so that the server's warm-up
    // and the machine's drift fall on all of them alike; every table emptied
    // (TRUNCATE, or DELETE and VACUUM) before each run.
    const chosen = systems(db, join(dir, 'jobs.db'), { JobTable, Database, count }).filter(
      (entry) => only === undefined || entry.name.includes(only),
    )
    for (const entry of chosen) rows.push({ name: entry.name, jobsPerSecond: {}, latency: undefined })
    for (const workerCount of [1, 2, 4]) {
      for (const [index, entry] of chosen.entries()) {
        const session = await entry.open()
        const workers = await startWorkers(entry.system, entry.url, workerCount, () => {})
        const started = now()
        await session.add(Array.from({ length: jobs }, (_, n) => ({ n })))
        for (let finished = 0; finished < jobs; finished = await session.finished()) await sleep(20)
        rows[index].jobsPerSecond[workerCount] = Math.round(jobs / ((now() - started) / 1000))
        await stopWorkers(workers)
        await session.close()
      }
    }
    for (const [index, entry] of chosen.entries()) {
      const row = rows[index]
      // Latency: one idle worker, one job at a time, its handler's start reported.
      const session = await entry.open()
      const latencies = []
      const workers = await startWorkers(entry.system, entry.url, 1, (ms) => latencies.push(ms))
      for (let i = 0; i < samples; i++) {
        const before = latencies.length
        await session.add([{ t: now() }])
        while (latencies.length === before) await sleep(1)
        await sleep(10 + (i % 10))
      }
      await stopWorkers(workers)
      await session.close()
      latencies.sort((a, b) => a - b)
      row.latency = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
      log(
        `${entry.name.padEnd(24)} jobs/s ${[1, 2, 4].map((w) => `${w}w ${String(row.jobsPerSecond[w]).padStart(6)}`).join('  ')}  enqueue->start p50 ${row.latency.p50.toFixed(1)} ms, p99 ${row.latency.p99.toFixed(1)} ms`,
      )
    }
  } finally {
    await counter.end().catch(() => {})
    await db.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

/** How ours compare with the faster anchor's throughput (4 workers) and the lower anchor p99: the issue's targets. */
export function jobsVerdicts(rows) {
  const anchors = rows.filter((row) => !row.name.startsWith('ours'))
  if (anchors.length === 0) return []
  const fastest = anchors.reduce((a, b) => (b.jobsPerSecond[4] > a.jobsPerSecond[4] ? b : a))
  const lowest = anchors.reduce((a, b) => (b.latency.p99 < a.latency.p99 ? b : a))
  return rows
    .filter((row) => row.name.startsWith('ours'))
    .map((ours) => {
      const speed = ours.jobsPerSecond[4] / fastest.jobsPerSecond[4]
      const p99 = ours.latency.p99 / lowest.latency.p99
      return `${ours.name}: 4 workers ${speed.toFixed(2)} x ${fastest.name}'s jobs/s (target >= 1: ${speed >= 1 ? 'met' : 'MISSED'}), p99 ${p99.toFixed(2)} x ${lowest.name}'s (target < 1: ${p99 < 1 ? 'met' : 'MISSED'})`
    })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { readCommandLine, wholeNumber } = await import('../scripts/lib/args.mjs')
  const { values } = readCommandLine({
    usage: `Usage: node bench/jobs.mjs [--quick] [--jobs N] [--samples N] [--only NAME]
  --quick        2,000 jobs and 20 latency samples instead of 20,000 and 100
  --jobs N       jobs per run
  --samples N    latency samples per system
  --only NAME    only the systems whose name contains NAME ("ours, SQLite", "pg-boss", ...)
  -h, --help     print this and exit`,
    options: {
      quick: { type: 'boolean' },
      jobs: { type: 'string', value: wholeNumber(1) },
      samples: { type: 'string', value: wholeNumber(1) },
      only: { type: 'string', value: { expected: 'a system name or part of one', parse: (text) => (text === '' ? undefined : text) } },
    },
  })
  const rows = await benchJobs(values)
  for (const line of jobsVerdicts(rows)) console.log(line)
}
