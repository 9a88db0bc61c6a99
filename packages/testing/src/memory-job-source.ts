/**
 * A source of jobs kept in memory: the worked example of writing a source
 * (docs/sources.md walks through it), and a fixture for testing job
 * handlers without a database.
 *
 * @module
 */

import { type ClaimedJob, type Job, type JobOutcome, JobSource, type JobSourceOptions, type SourceAddress } from '@socketserver/core'
import { registerCleanup } from './cleanup.js'

/** Where a job is in its life. `failed` is final: its last attempt failed (the dead letter). */
export type MemoryJobState = 'pending' | 'running' | 'done' | 'failed'

/** One job of a {@link MemoryJobSource}, as {@link MemoryJobSource.job} shows it. */
export interface MemoryJob {
  readonly id: string
  readonly data: unknown
  readonly state: MemoryJobState
  /** Attempts made so far (claims not given back). */
  readonly attempts: number
  readonly maxAttempts: number
  /** The result of a done job. */
  readonly result?: unknown
  /** The message of the last attempt's failure, if one failed. */
  readonly error?: string
}

/** Options of {@link MemoryJobSource.start}. */
export interface MemoryJobSourceOptions extends JobSourceOptions {
  /** Names the source: its address is `memory:NAME`. Default `jobs`. */
  name?: string
  /** Attempts a job gets unless its `enqueue()` says otherwise. Default 3. */
  maxAttempts?: number
  /**
   * Milliseconds before a failed job runs again, given the attempt that
   * failed (1 for the first). Default 0: at once, as tests want.
   */
  retryDelayMs?: (attempt: number) => number
}

/** Options of {@link MemoryJobSource.enqueue}. */
export interface EnqueueOptions {
  /** Attempts this job gets. Default the source's `maxAttempts`. */
  maxAttempts?: number
  /** Milliseconds before it may run. Default 0. */
  delayMs?: number
}

interface Entry {
  id: string
  data: unknown
  state: MemoryJobState
  attempts: number
  maxAttempts: number
  runAt: number
  result?: unknown
  error?: string
}

/**
 * A {@link JobSource} over an array: `enqueue()` adds jobs, claims take the
 * oldest ready ones, failures are retried until `maxAttempts`, then the job
 * is `failed`. Everything a source must do, in one file; a fixture for
 * handler tests (started inside a test, it is closed when the test ends).
 *
 * @example
 * ```ts
 * const source = await MemoryJobSource.start()
 * const id = source.enqueue({ to: 'a@example.com' })
 * serveInBackground(source, async (job) => `sent to ${(job.data as { to: string }).to}`)
 * await source.settled()
 * source.job(id) // { state: 'done', result: 'sent to a@example.com', attempts: 1, ... }
 * ```
 */
export class MemoryJobSource extends JobSource {
  readonly #name: string
  readonly #maxAttempts: number
  readonly #retryDelayMs: (attempt: number) => number
  readonly #entries = new Map<string, Entry>()
  #nextId = 1
  readonly #settledWaiters: Array<() => void> = []

  private constructor(options: MemoryJobSourceOptions) {
    super(options)
    this.#name = options.name ?? 'jobs'
    this.#maxAttempts = options.maxAttempts ?? 3
    this.#retryDelayMs = options.retryDelayMs ?? (() => 0)
  }

  /**
   * Makes and starts a source. Inside a test it is closed when the test ends.
   *
   * @param options - Its name, default attempts and retry delay; `claimBatch`, `signal`.
   * @returns The started source.
   */
  static async start(options: MemoryJobSourceOptions = {}): Promise<MemoryJobSource> {
    const source = new MemoryJobSource(options)
    await source.start()
    registerCleanup(() => source.close())
    return source
  }

  /**
   * Adds a job; a consumer waiting for one gets it at once.
   *
   * @param data - Its payload (any value: nothing is serialized in memory).
   * @param options - `maxAttempts`, `delayMs`.
   * @returns The job's id.
   */
  enqueue(data: unknown, options: EnqueueOptions = {}): string {
    const id = String(this.#nextId++)
    const maxAttempts = options.maxAttempts ?? this.#maxAttempts
    this.#entries.set(id, { id, data, state: 'pending', attempts: 0, maxAttempts, runAt: Date.now() + (options.delayMs ?? 0) })
    this.wakeClaims()
    return id
  }

  /** The job with `id`, as it is now; undefined for an id never enqueued. */
  job(id: string): MemoryJob | undefined {
    const entry = this.#entries.get(id)
    return entry === undefined ? undefined : { ...entry }
  }

  /** Every job, in the order enqueued. */
  jobs(): MemoryJob[] {
    return [...this.#entries.values()].map((entry) => ({ ...entry }))
  }

  /** Resolves once no job is pending or running (at once if none is). */
  settled(): Promise<void> {
    if (this.#isSettled()) return Promise.resolve()
    return new Promise((resolve) => this.#settledWaiters.push(resolve))
  }

  protected async connect(): Promise<SourceAddress> {
    return { transport: 'source', name: `memory:${this.#name}` }
  }

  protected async claim(count: number): Promise<readonly ClaimedJob[]> {
    const now = Date.now()
    const claimed: ClaimedJob[] = []
    for (const entry of this.#entries.values()) {
      if (claimed.length === count) break
      if (entry.state !== 'pending' || entry.runAt > now) continue
      entry.state = 'running'
      entry.attempts++
      claimed.push({ id: entry.id, data: entry.data, attempt: entry.attempts, maxAttempts: entry.maxAttempts })
    }
    return claimed
  }

  protected waitForJobs(signal: AbortSignal): Promise<void> {
    // Woken by enqueue() (wakeClaims aborts the signal), or when the next delayed job is due.
    return new Promise((resolve) => {
      let due = Number.POSITIVE_INFINITY
      for (const entry of this.#entries.values()) if (entry.state === 'pending') due = Math.min(due, entry.runAt)
      const timer = Number.isFinite(due) ? setTimeout(finish, Math.max(0, due - Date.now())) : undefined
      function finish(): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', finish)
        resolve()
      }
      signal.addEventListener('abort', finish, { once: true })
      if (signal.aborted) finish()
    })
  }

  protected async record(job: Job, outcome: JobOutcome): Promise<void> {
    const entry = this.#entries.get(job.id)
    if (entry === undefined || entry.state !== 'running') throw new Error(`Cannot record job ${job.id}: it is not running`)
    if (outcome.state === 'done') {
      entry.state = 'done'
      entry.result = outcome.result
    } else if (outcome.state === 'given-back') {
      entry.state = 'pending'
      entry.attempts--
      entry.runAt = Date.now() + outcome.delayMs
    } else {
      entry.error = outcome.error instanceof Error ? outcome.error.message : String(outcome.error)
      if (entry.attempts >= entry.maxAttempts) entry.state = 'failed'
      else {
        entry.state = 'pending'
        entry.runAt = Date.now() + this.#retryDelayMs(entry.attempts)
      }
    }
    if (entry.state === 'pending') this.wakeClaims()
    if (this.#isSettled()) for (const resolve of this.#settledWaiters.splice(0)) resolve()
  }

  protected async disconnect(): Promise<void> {}

  #isSettled(): boolean {
    for (const entry of this.#entries.values()) if (entry.state === 'pending' || entry.state === 'running') return false
    return true
  }
}
