/**
 * A table of jobs as a source: claimed with leases, renewed while they
 * run, their outcomes written back in the transaction that ends the claim.
 *
 * @module
 */

import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import {
  type ClaimedJob,
  HandlerError,
  InvalidOptionError,
  type JobInit,
  type JobOutcome,
  JobSource,
  type JobSourceOptions,
  type SourceAddress,
} from '@socketserver/core'
import { type Claim, type ClaimEnd, claimKey, type JobState, type NewJob, type StoredJob, type TableEngine } from './engine.js'
import { JobTableError, LeaseLostError } from './errors.js'
import { encodeData } from './new-job-checks.js'
import { PostgresEngine } from './postgres/postgres-engine.js'
import { type RetryBackoff, retryDelayMs } from './retry-delay.js'
import { parseSourceUrl } from './source-url.js'
import { SqliteEngine } from './sqlite/sqlite-engine.js'
import { TableJob } from './table-job.js'

/** How long a claim holds a job unless renewed, by default: 10 s (a crashed worker's job runs again within that). */
export const DEFAULT_LEASE_MS = 10_000

/** Attempts a job gets, by default. */
export const DEFAULT_MAX_ATTEMPTS = 5

/** How often an idle SQLite worker looks for delayed and retried jobs and expired leases, by default: 1 s (a commit to the file, another process's enqueue, wakes it at once). */
export const DEFAULT_SQLITE_POLL_MS = 1_000

/** How often an idle PostgreSQL worker looks for delayed and retried jobs and expired leases, by default: 2 s (new jobs wake it at once, by NOTIFY). */
export const DEFAULT_POSTGRES_POLL_MS = 2_000

/** Options of {@link JobTable.open}. */
export interface JobTableOptions extends JobSourceOptions {
  /** `sqlite:PATH` (the default engine: a file, no server) or `postgres://USER@HOST/DATABASE`. */
  url: string
  /** The queue this table serves (and adds to). Default `default`. */
  queue?: string
  /** Attempts a new job gets unless `enqueue()` says otherwise. Default {@link DEFAULT_MAX_ATTEMPTS}. */
  maxAttempts?: number
  /**
   * Milliseconds a claim holds a job; renewed every third of it while the
   * job runs, so a long job is never taken from its worker, and a dead
   * worker's job runs again within this. Default {@link DEFAULT_LEASE_MS}.
   */
  leaseMs?: number
  /**
   * Milliseconds between looks for jobs while idle, for delayed and retried
   * jobs and expired leases: new jobs wake idle workers at once (on SQLite
   * a watch on the file's write-ahead log, on PostgreSQL NOTIFY). Default
   * {@link DEFAULT_SQLITE_POLL_MS} and {@link DEFAULT_POSTGRES_POLL_MS}.
   */
  pollIntervalMs?: number
  /** PostgreSQL: connections in this table's pool. Default 10. */
  poolSize?: number
  /** The back-off between a failed attempt and the next. Default 1 s doubling to 1 h. */
  retryBackoff?: RetryBackoff
  /** Names this worker in the table's `locked_by` column. Default `HOST:PID:RANDOM`. */
  worker?: string
}

/** A job to add, with {@link JobTable.enqueue}'s options. */
export type EnqueueOptions = Omit<NewJob, 'data' | 'queue'>

/**
 * A table of jobs served as a `Server<JobRequest>`: `serve(table, handler)`
 * runs each job once a worker claims it, with every hook and policy of
 * socket servers. Many processes (and, on PostgreSQL, many machines) may
 * serve one table: each job is claimed by one worker at a time, under a
 * lease its worker renews while the job runs. What a job came to is
 * written in the transaction that ends its claim (with the handler's own
 * statements: {@link TableJob.onDone}).
 *
 * The guarantee is at-least-once with every retry visible: a job ends
 * `done`, or `failed` after its last attempt, or is still `pending`; it
 * runs again only after a failed attempt or when its worker died (or
 * stalled past its lease), and the handler sees `job.attempt > 1` then.
 *
 * @example
 * ```ts
 * const table = await JobTable.open({ url: 'sqlite:jobs.db' })
 * await table.enqueue({ to: 'ada@example.com' })
 * await serve(table, async (job: TableJob) => sendMail(job.data), { signal, policy: pooled({ concurrency: 8 }) })
 * ```
 */
export class JobTable extends JobSource<TableJob> {
  readonly #engine: TableEngine
  readonly #queue: string
  readonly #maxAttempts: number
  readonly #leaseMs: number
  readonly #pollMs: number
  readonly #backoff: RetryBackoff
  readonly #worker: string
  /**
   * Jobs claimed by this worker whose outcome is not yet written, by claim
   * (id and attempt: this worker may claim a job again once an earlier
   * claim's lease ran out): the heartbeat renews them.
   */
  readonly #held = new Map<string, TableJob>()
  /** Jobs whose outcome is being written now: the heartbeat leaves them be. */
  readonly #recording = new Set<TableJob>()
  #heartbeat: NodeJS.Timeout | undefined

  private constructor(engine: TableEngine, options: JobTableOptions) {
    super(options)
    this.#engine = engine
    this.#queue = options.queue ?? 'default'
    this.#maxAttempts = positiveWhole('maxAttempts', options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)
    this.#leaseMs = positiveWhole('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS)
    this.#pollMs = positiveWhole('pollIntervalMs', options.pollIntervalMs ?? engine.defaultPollMs)
    this.#backoff = options.retryBackoff ?? {}
    this.#worker = options.worker ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  }

  /**
   * Opens the table at `url` (creating its table and indexes where
   * missing) and starts it.
   *
   * @param options - `url`, and how jobs are claimed and retried.
   * @returns The started table.
   * @throws JobTableError for an unknown URL or a database that cannot be
   *   opened; InvalidOptionError for a bad option.
   */
  static async open(options: JobTableOptions): Promise<JobTable> {
    const table = new JobTable(engineFor(options), options)
    await table.start()
    return table
  }

  /** The name this worker claims under. */
  get worker(): string {
    return this.#worker
  }

  /**
   * Adds one job to this table's queue; an idle worker of this process
   * claims it at once, others within their poll interval (or at once,
   * where the engine notifies).
   *
   * @param data - Its payload: a JSON value.
   * @param options - `maxAttempts`, `delayMs`.
   * @returns Its id.
   */
  async enqueue(data: unknown, options: EnqueueOptions = {}): Promise<string> {
    const [id] = await this.enqueueMany([{ ...options, data }])
    return id as string
  }

  /**
   * Adds jobs in one transaction; none is added if one cannot be.
   *
   * @param jobs - Each with its `data` and options; `queue` defaults to this table's.
   * @returns Their ids, in order.
   */
  async enqueueMany(jobs: readonly NewJob[]): Promise<string[]> {
    // The engine checks each job (its data, maxAttempts, delayMs) as it encodes it, inside its transaction.
    const ids = await this.#engine.enqueue(
      jobs.map((job) => ({ ...job, queue: job.queue ?? this.#queue })),
      this.#maxAttempts,
    )
    this.wakeClaims()
    return ids
  }

  /** Jobs by state, in this table's queue. */
  counts(): Promise<Record<JobState, number>> {
    return this.#engine.counts(this.#queue)
  }

  /** One job, as stored; undefined for an unknown id. */
  job(id: string): Promise<StoredJob | undefined> {
    return this.#engine.job(id)
  }

  protected async connect(): Promise<SourceAddress> {
    await this.#engine.migrate()
    this.#heartbeat = setInterval(() => void this.#renewLeases().catch(() => {}), Math.max(1, Math.floor(this.#leaseMs / 3)))
    this.#heartbeat.unref()
    return this.#engine.address
  }

  protected async claim(count: number): Promise<readonly ClaimedJob[]> {
    return this.#engine.claim(this.#queue, this.#worker, count, this.#leaseMs)
  }

  protected override createJob(init: JobInit): TableJob {
    const job = new TableJob(init)
    this.#held.set(claimKey(claimOf(job, this.#worker)), job)
    return job
  }

  protected waitForJobs(signal: AbortSignal): Promise<void> {
    return this.#engine.waitForJobs(this.#queue, this.#pollMs, signal)
  }

  protected async record(job: TableJob, outcome: JobOutcome): Promise<void> {
    const claim = claimOf(job, this.#worker)
    this.#recording.add(job)
    try {
      const end = this.#claimEnd(job, outcome)
      await this.#engine.finish(claim, end, job.doneStatements)
      // A job back in the table may be claimed again now (a retry without back-off, a give-back): look at once.
      if (end.state !== 'done') this.wakeClaims()
    } finally {
      this.#recording.delete(job)
      // Only this claim's entry: a newer claim of the same job keeps its own.
      const key = claimKey(claim)
      if (this.#held.get(key) === job) this.#held.delete(key)
    }
  }

  protected async disconnect(): Promise<void> {
    clearInterval(this.#heartbeat)
    await this.#engine.close()
  }

  /** What a request's outcome is written as: a result that JSON cannot hold fails the job, saying so. */
  #claimEnd(job: TableJob, outcome: JobOutcome): ClaimEnd {
    if (outcome.state === 'done') {
      try {
        return { state: 'done', result: encodeData(outcome.result ?? null) }
      } catch (error) {
        return { state: 'failed', error: `the result is not a JSON value: ${(error as Error).message}`, retryAfterMs: 0 }
      }
    }
    if (outcome.state === 'failed')
      return { state: 'failed', error: messageOf(outcome.error), retryAfterMs: retryDelayMs(job.attempt, this.#backoff) }
    return outcome
  }

  /** The heartbeat: renews the leases of running jobs; a job whose claim was lost is aborted (another worker may run it now). */
  async #renewLeases(): Promise<void> {
    if (this.#held.size === 0) return
    const held = [...this.#held.entries()]
    let kept: Set<string>
    try {
      kept = await this.#engine.renew(
        this.#worker,
        held.map(([, job]) => claimOf(job, this.#worker)),
        this.#leaseMs,
      )
    } catch (error) {
      this.reportFault(
        new JobTableError(`Cannot renew the leases of ${held.length} running jobs: ${(error as Error).message}`, { cause: error }),
      )
      return
    }
    for (const [key, job] of held) {
      // Ended meanwhile, or ending (its outcome being written: a renewal that
      // ran after that commit finds the claim gone), or still ours.
      if (this.#held.get(key) !== job || this.#recording.has(job) || kept.has(key)) continue
      job.abort(new LeaseLostError(job.id, job.attempt))
    }
  }
}

/** A job's claim as the engines check it. */
function claimOf(job: TableJob, worker: string): Claim {
  return { id: job.id, attempt: job.attempt, worker, token: job.claimToken ?? '' }
}

/** The engine a URL names. */
function engineFor(options: JobTableOptions): TableEngine {
  const parsed = parseSourceUrl(options.url)
  if (parsed.engine === 'sqlite') return new SqliteEngine(parsed.path)
  return new PostgresEngine(parsed.url, options.poolSize === undefined ? {} : { poolSize: positiveWhole('poolSize', options.poolSize) })
}

/** A failure as stored: what the handler threw, named, without our wrapper's words. */
function messageOf(error: unknown): string {
  const inner = error instanceof HandlerError ? error.cause : error
  return inner instanceof Error ? `${inner.name}: ${inner.message}` : String(inner)
}

function positiveWhole(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError(name, `Cannot use ${name} ${String(value)}: expected a whole number of at least 1`)
  }
  return value
}
