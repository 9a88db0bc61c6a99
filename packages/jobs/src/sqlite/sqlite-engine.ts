/**
 * The SQLite engine: one database file, shared safely by every process on
 * the machine that opens it (WAL, claims in `BEGIN IMMEDIATE`
 * transactions, leases in a column).
 *
 * @module
 */

import { type FSWatcher, watch } from 'node:fs'
import type { ClaimedJob, SourceAddress } from '@socketserver/core'
import Database from 'better-sqlite3'
import { runDoneStatements } from '../done-statements.js'
import {
  type Claim,
  type ClaimEnd,
  claimKey,
  type JobState,
  type NewJob,
  type StoredJob,
  type TableEngine,
  type TransactionStatement,
} from '../engine.js'
import { JobTableError, LeaseLostError } from '../errors.js'
import { Mutex } from '../mutex.js'
import { checkedDelayMs, checkedMaxAttempts, encodeData } from '../new-job-checks.js'
import { WriteBatcher } from '../write-batcher.js'

/** The table, its indexes: what `migrate()` creates. Times are milliseconds since the epoch. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS socketserver_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL DEFAULT 'default',
  data TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claims INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  lease_until INTEGER,
  locked_by TEXT,
  result TEXT,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS socketserver_jobs_ready ON socketserver_jobs (queue, run_at, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS socketserver_jobs_leases ON socketserver_jobs (lease_until) WHERE state = 'running';
`

/** How long a statement waits for another process's write lock before it fails: 10 s. */
const BUSY_TIMEOUT_MS = 10_000

interface Row {
  id: number
  queue: string
  data: string
  state: JobState
  attempts: number
  claims: number
  max_attempts: number
  run_at: number
  result: string | null
  last_error: string | null
  created_at: number
  finished_at: number | null
}

/**
 * The SQLite engine over `better-sqlite3` (12.x: version 13 needs Node
 * 22). Every statement runs through one mutex, so that a transaction
 * awaiting a handler's statements (`onDone`) is never interleaved with
 * another job's on the same connection. Calls are synchronous underneath:
 * a write waits for another process's lock for up to 10 s, on this
 * process's event loop.
 */
export class SqliteEngine implements TableEngine {
  readonly address: SourceAddress
  /** Idle workers are woken by commits to the file (a watch on its WAL); the poll is for delayed jobs, retries and expired leases. */
  readonly defaultPollMs = 1_000
  readonly #db: Database.Database
  readonly #mutex = new Mutex()
  #statements: Statements | undefined
  readonly #path: string
  /** Waits for new jobs, woken by a change of the write-ahead log. */
  readonly #waiters = new Set<() => void>()
  #walWatch: FSWatcher | undefined
  /** Jobs being marked done, a transaction per batch. */
  readonly #doneWrites = new WriteBatcher<{ claim: Claim; result: string }>((items) => this.#writeDone(items))

  /**
   * @param path - The database file (created if missing), or `:memory:`.
   * @throws JobTableError when the file cannot be opened.
   */
  constructor(path: string) {
    this.#path = path
    try {
      this.#db = new Database(path, { timeout: BUSY_TIMEOUT_MS })
      this.#db.pragma('journal_mode = WAL')
      // Durable commits: an enqueued job survives a power cut once enqueue() resolved.
      this.#db.pragma('synchronous = FULL')
    } catch (error) {
      const message = (error as Error).message
      // npm >= 11 and pnpm >= 10 skip install scripts, and better-sqlite3 builds its native part in one.
      const hint = /bindings file|\.node\b/.test(message)
        ? " (better-sqlite3 has no native build: allow its install script, e.g. `npm rebuild better-sqlite3` or pnpm's onlyBuiltDependencies)"
        : ''
      throw new JobTableError(`Cannot open the SQLite database ${path}: ${message}${hint}`, { cause: error })
    }
    this.address = { transport: 'source', name: `sqlite:${path}` }
  }

  async migrate(): Promise<void> {
    await this.#mutex.run(() => {
      this.#db.exec(SCHEMA)
      // A table made before claims were counted gets the column.
      const columns = this.#db.prepare('PRAGMA table_info(socketserver_jobs)').all() as Array<{ name: string }>
      if (!columns.some((column) => column.name === 'claims'))
        this.#db.exec('ALTER TABLE socketserver_jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0')
      this.#statements = prepareStatements(this.#db)
    })
    this.#watchCommits()
  }

  /**
   * Watches the write-ahead log, which every commit of every process
   * changes (inotify: no polling), to wake idle workers when another
   * process adds jobs. A commit that adds nothing costs a claim that finds
   * nothing; a file that cannot be watched (`:memory:`) leaves the poll.
   */
  #watchCommits(): void {
    if (this.#path === ':memory:' || this.#path === '') return
    try {
      this.#walWatch = watch(`${this.#path}-wal`, { persistent: false }, () => {
        for (const wake of [...this.#waiters]) wake()
      })
      this.#walWatch.on('error', () => {
        this.#walWatch?.close()
        this.#walWatch = undefined
      })
    } catch {
      // No WAL file to watch: idle workers poll.
    }
  }

  get #prepared(): Statements {
    if (this.#statements === undefined) throw new JobTableError('Cannot use the table before migrate()')
    return this.#statements
  }

  claim(queue: string, worker: string, count: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.#mutex.run(() => {
      const statements = this.#prepared
      const now = Date.now()
      const rows = this.#db
        .transaction(() => {
          statements.rescue.run({ now })
          return statements.claim.all({ now, leaseUntil: now + leaseMs, worker, queue, count }) as Array<
            Pick<Row, 'id' | 'data' | 'attempts' | 'max_attempts' | 'claims'>
          >
        })
        .immediate()
      rows.sort((a, b) => a.id - b.id)
      return rows.map((row) => ({
        id: String(row.id),
        data: JSON.parse(row.data),
        attempt: row.attempts,
        maxAttempts: row.max_attempts,
        claimToken: String(row.claims),
      }))
    })
  }

  renew(worker: string, claims: ReadonlyArray<{ readonly id: string; readonly token: string }>, leaseMs: number): Promise<Set<string>> {
    return this.#mutex.run(() => {
      const statements = this.#prepared
      const leaseUntil = Date.now() + leaseMs
      const held = new Set<string>()
      this.#db
        .transaction(() => {
          for (const claim of claims) {
            if (statements.renew.run(leaseUntil, Number(claim.id), worker, Number(claim.token)).changes === 1) held.add(claimKey(claim))
          }
        })
        .immediate()
      return held
    })
  }

  async finish(claim: Claim, end: ClaimEnd, statements: ReadonlyArray<TransactionStatement>): Promise<void> {
    // The common end, done with no statements of the handler's, goes with others finishing meanwhile: one commit (one fsync) for all.
    if (end.state === 'done' && statements.length === 0) {
      if (!(await this.#doneWrites.add({ claim, result: end.result }))) {
        throw new LeaseLostError(claim.id, claim.attempt)
      }
      return
    }
    return this.#mutex.run(async () => {
      const prepared = this.#prepared
      const db = this.#db
      const now = Date.now()
      const held = { id: Number(claim.id), worker: claim.worker, claims: Number(claim.token), now }
      // The update checks the claim in its WHERE: one statement, one commit, unless onDone() statements share it.
      const endClaim = (): void => {
        const { changes } =
          end.state === 'done'
            ? prepared.done.run({ ...held, result: end.result })
            : end.state === 'failed'
              ? prepared.failed.run({ ...held, retryAt: now + end.retryAfterMs, error: end.error })
              : prepared.givenBack.run({ ...held, runAt: now + end.delayMs })
        if (changes !== 1) throw new LeaseLostError(claim.id, claim.attempt)
      }
      if (end.state !== 'done' || statements.length === 0) {
        endClaim()
        return
      }
      db.exec('BEGIN IMMEDIATE')
      try {
        endClaim()
        await runDoneStatements(statements, async (sql, params = []) => runStatement(db, sql, params))
        db.exec('COMMIT')
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK')
        throw error
      }
    })
  }

  /** Marks jobs done in one transaction; says which claims were still held. */
  #writeDone(items: ReadonlyArray<{ claim: Claim; result: string }>): Promise<boolean[]> {
    return this.#mutex.run(() => {
      const done = this.#prepared.done
      const now = Date.now()
      return this.#db
        .transaction(() =>
          items.map(
            ({ claim, result }) =>
              done.run({ id: Number(claim.id), worker: claim.worker, claims: Number(claim.token), now, result }).changes === 1,
          ),
        )
        .immediate()
    })
  }

  enqueue(jobs: readonly NewJob[], defaultMaxAttempts: number): Promise<string[]> {
    return this.#mutex.run(() => {
      const statements = this.#prepared
      const now = Date.now()
      return this.#db
        .transaction(() =>
          jobs.map((job) => {
            const row = statements.insert.get(
              job.queue ?? 'default',
              encodeData(job.data),
              checkedMaxAttempts(job.maxAttempts ?? defaultMaxAttempts),
              now + checkedDelayMs(job.delayMs ?? 0),
              now,
            ) as { id: number }
            return String(row.id)
          }),
        )
        .immediate()
    })
  }

  async waitForJobs(_queue: string, pollMs: number, signal: AbortSignal): Promise<void> {
    // Woken by any commit to the file (the WAL changed: another process may
    // have added jobs), by this process's enqueue (the signal), or after pollMs
    // (delayed jobs, retries, expired leases; and where the file cannot be watched).
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', finish)
        this.#waiters.delete(finish)
        resolve()
      }
      const timer = setTimeout(finish, pollMs)
      signal.addEventListener('abort', finish, { once: true })
      this.#waiters.add(finish)
      if (signal.aborted) finish()
    })
  }

  counts(queue?: string): Promise<Record<JobState, number>> {
    return this.#mutex.run(() => {
      const statements = this.#prepared
      const rows = (queue === undefined ? statements.counts.all() : statements.countsOfQueue.all(queue)) as Array<{
        state: JobState
        n: number
      }>
      const counts: Record<JobState, number> = { pending: 0, running: 0, done: 0, failed: 0 }
      for (const row of rows) counts[row.state] = row.n
      return counts
    })
  }

  job(id: string): Promise<StoredJob | undefined> {
    return this.#mutex.run(() => {
      const row = this.#prepared.job.get(Number(id)) as Row | undefined
      return row === undefined ? undefined : storedJob(row)
    })
  }

  async close(): Promise<void> {
    this.#walWatch?.close()
    for (const wake of [...this.#waiters]) wake()
    await this.#mutex.run(() => this.#db.close())
  }
}

/** The claim, in a WHERE: the job is running, under this worker, in this attempt. */
const HELD = `id = @id AND state = 'running' AND locked_by = @worker AND claims = @claims`

/** The statements, prepared once the table exists. */
function prepareStatements(db: Database.Database) {
  return {
    rescue: db.prepare(
      `UPDATE socketserver_jobs
       SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN @now ELSE NULL END,
           last_error = 'attempt ' || attempts || ': its worker stopped renewing the lease (it stalled, crashed or was killed)',
           lease_until = NULL, locked_by = NULL, run_at = @now
       WHERE state = 'running' AND lease_until < @now`,
    ),
    claim: db.prepare(
      `UPDATE socketserver_jobs SET state = 'running', attempts = attempts + 1, claims = claims + 1, lease_until = @leaseUntil, locked_by = @worker
       WHERE id IN (SELECT id FROM socketserver_jobs WHERE state = 'pending' AND queue = @queue AND run_at <= @now
                    ORDER BY run_at, id LIMIT @count)
       RETURNING id, data, attempts, max_attempts, claims`,
    ),
    renew: db.prepare(`UPDATE socketserver_jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND locked_by = ? AND claims = ?`),
    done: db.prepare(
      `UPDATE socketserver_jobs SET state = 'done', result = @result, finished_at = @now, lease_until = NULL, locked_by = NULL WHERE ${HELD}`,
    ),
    failed: db.prepare(
      `UPDATE socketserver_jobs
       SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN @now ELSE NULL END,
           run_at = @retryAt, last_error = @error, lease_until = NULL, locked_by = NULL
       WHERE ${HELD}`,
    ),
    givenBack: db.prepare(
      `UPDATE socketserver_jobs SET state = 'pending', attempts = attempts - 1, run_at = @runAt, lease_until = NULL, locked_by = NULL WHERE ${HELD}`,
    ),
    insert: db.prepare(`INSERT INTO socketserver_jobs (queue, data, max_attempts, run_at, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`),
    counts: db.prepare(`SELECT state, count(*) AS n FROM socketserver_jobs GROUP BY state`),
    countsOfQueue: db.prepare(`SELECT state, count(*) AS n FROM socketserver_jobs WHERE queue = ? GROUP BY state`),
    job: db.prepare(`SELECT * FROM socketserver_jobs WHERE id = ?`),
  }
}

type Statements = ReturnType<typeof prepareStatements>

/** One of a handler's statements: rows for a statement that returns them, else none. */
function runStatement(db: Database.Database, sql: string, params: readonly unknown[]): Array<Record<string, unknown>> {
  const statement = db.prepare(sql)
  if (statement.reader) return statement.all(...params) as Array<Record<string, unknown>>
  statement.run(...params)
  return []
}

function storedJob(row: Row): StoredJob {
  return {
    id: String(row.id),
    queue: row.queue,
    data: JSON.parse(row.data),
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: new Date(row.run_at),
    ...(row.result === null ? {} : { result: JSON.parse(row.result) }),
    ...(row.last_error === null ? {} : { error: row.last_error }),
    createdAt: new Date(row.created_at),
    ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at) }),
  }
}
