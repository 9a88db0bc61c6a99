// A worker of the jobs bench (bench/jobs.mjs): SYSTEM URL CONCURRENCY.
// Serves trivial jobs ({ n } or { t }: a job with t, the wall-clock time it
// was enqueued at, prints "latency MS" when its handler starts) until
// SIGTERM, with ours (JobTable over PostgreSQL or SQLite), pg-boss 10 or
// graphile-worker 0.16. Prints "ready" once it can take jobs.
const [system, url, concurrencyText] = process.argv.slice(2)
const concurrency = Number(concurrencyText)
const now = () => performance.timeOrigin + performance.now()
const seen = (data) => {
  if (data?.t !== undefined) process.stdout.write(`latency ${(now() - data.t).toFixed(3)}\n`)
}
const stops = []

if (system === 'ours') {
  const { pooled, serve } = await import('@socketserver/core')
  const { JobTable } = await import('@socketserver/jobs')
  const table = await JobTable.open({ url, queue: 'bench' })
  const controller = new AbortController()
  const serving = serve(
    table,
    (job) => {
      seen(job.data)
      return null
    },
    { signal: controller.signal, policy: pooled({ concurrency }) },
  )
  stops.push(async () => {
    controller.abort()
    await serving
  })
} else if (system === 'pg-boss') {
  const { default: PgBoss } = await import('pg-boss')
  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false })
  boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`))
  await boss.start()
  // pg-boss waits its polling interval (0.5 s at least) after every fetch, so its
  // throughput comes from batches: as many fetch loops as our pool has slots,
  // each taking a batch of that many (its README's way to more jobs a second).
  for (let i = 0; i < concurrency; i++) {
    await boss.work('bench', { batchSize: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      for (const job of jobs) seen(job.data)
    })
  }
  stops.push(() => boss.stop({ graceful: true, wait: true, timeout: 5_000 }))
} else if (system === 'graphile-worker') {
  const { Logger, run } = await import('graphile-worker')
  const runner = await run({
    connectionString: url,
    concurrency,
    noHandleSignals: true,
    pollInterval: 2_000,
    logger: new Logger(() => () => {}),
    taskList: { trivial: async (payload) => seen(payload) },
  })
  stops.push(() => runner.stop())
} else {
  throw new Error(`Cannot run ${system}: expected ours, pg-boss or graphile-worker`)
}
process.once('SIGTERM', async () => {
  for (const stop of stops) await stop()
  process.exit(0)
})
process.stdout.write('ready\n')
