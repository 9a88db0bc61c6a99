// One worker of `scripts/stress-jobs.mjs`: serves the table at argv[2] with
// pooled(argv[4]) until SIGTERM. Each job takes 0-3 ms and writes itself to
// the ledger in the transaction that marks it done.
import { pooled, serve } from '@socketserver/core'
import { isConnectionError, JobTable } from '@socketserver/jobs'

const [url, leaseMs, concurrency] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const insert = url.startsWith('sqlite:')
  ? 'INSERT INTO ledger (job_id, attempt, worker) VALUES (?, ?, ?)'
  : 'INSERT INTO ledger (job_id, attempt, worker) VALUES ($1, $2, $3)'
// A worker restarted while the database restarts waits for it, as a service manager's restart would.
let table
for (const deadline = Date.now() + 60_000; table === undefined; ) {
  try {
    table = await JobTable.open({ url, leaseMs, retryBackoff: { baseMs: 10, maxMs: 200 }, pollIntervalMs: 100 })
  } catch (error) {
    if (!isConnectionError(error) || Date.now() > deadline) throw error
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
const controller = new AbortController()
process.once('SIGTERM', () => controller.abort())
process.stdout.write('ready\n')
await serve(
  table,
  async (job) => {
    const ms = job.data.n % 4
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
    job.onDone((tx) => tx.query(insert, [job.id, job.attempt, process.pid]))
    return job.data.n
  },
  {
    signal: controller.signal,
    policy: pooled({ concurrency }),
    // A database restart makes claims and records fail for a while: counted by the parent from stderr, never silent.
    handleError: (error) => process.stderr.write(`worker ${process.pid}: ${error.message}\n`),
  },
)
