/**
 * What a database must do for a table of jobs: the interface both engines
 * (SQLite, PostgreSQL) implement, so that `JobTable` is written once.
 *
 * @module
 */

import type { ClaimedJob, SourceAddress } from '@socketserver/core'

/** Where a job is in its life. `failed` is final: its last attempt failed (the dead letter). */
export type JobState = 'pending' | 'running' | 'done' | 'failed'

/** A job to add. */
export interface NewJob {
  /** Its payload: any JSON value. */
  readonly data: unknown
  /** The queue it belongs to. Default `default`. */
  readonly queue?: string
  /** Attempts it gets before it is `failed`. Default the table's `maxAttempts`. */
  readonly maxAttempts?: number
  /** Milliseconds before it may run. Default 0. */
  readonly delayMs?: number
}

/**
 * One claim of a job, as its holder records the job's end: checked against
 * the worker and the claim's token (the count of the job's claims, which a
 * give-back does not take back, unlike its attempts).
 */
export interface Claim {
  readonly id: string
  readonly attempt: number
  readonly worker: string
  /** The job's `claims` when this claim was made. */
  readonly token: string
}

/** One claim as a key: a job's id and claim token (`7#2`). */
export function claimKey(claim: { readonly id: string; readonly token: string }): string {
  return `${claim.id}#${claim.token}`
}

/** A statement run in the transaction that ends a job's claim (see `TableJob.onDone`). */
export interface JobTransaction {
  /**
   * Runs one SQL statement in the transaction: `?` placeholders on SQLite,
   * `$1` on PostgreSQL. Resolves with the rows it returned (none for a
   * statement that returns none).
   */
  query(sql: string, params?: readonly unknown[]): Promise<Array<Record<string, unknown>>>
}

/** A statement a handler adds to the transaction that marks its job done (`TableJob.onDone()`). */
export type TransactionStatement = (tx: JobTransaction) => Promise<unknown>

/** What `JobTable` asks of an engine. Every time is in milliseconds since the epoch, read by the engine's clock. */
export interface TableEngine {
  /** The source's address: the URL without its password. */
  readonly address: SourceAddress
  /** How often idle workers look for jobs unless told (`pollIntervalMs`). */
  readonly defaultPollMs: number
  /** Creates the table and its indexes if they do not exist. */
  migrate(): Promise<void>
  /**
   * In one transaction: returns jobs whose holder's lease ran out to
   * `pending` (or `failed` when that was their last attempt), then claims
   * up to `count` ready jobs of `queue` for `worker` until `leaseMs` from
   * now, counting an attempt each.
   */
  claim(queue: string, worker: string, count: number, leaseMs: number): Promise<ClaimedJob[]>
  /**
   * Extends the leases of `worker`'s claims (a job's id and claim token)
   * to `leaseMs` from now; resolves with the claims still held, as
   * `claimKey()`s. An earlier claim of the same job is not held.
   */
  renew(worker: string, claims: ReadonlyArray<{ readonly id: string; readonly token: string }>, leaseMs: number): Promise<Set<string>>
  /**
   * Ends a claim, in one transaction with `statements` (for a done job):
   * `done` with its result, `failed` (pending again after `retryAtMs`
   * from now while attempts remain, else final) with its error message,
   * or `given-back` (pending after `delayMs`, the attempt not counted).
   *
   * @throws LeaseLostError when the claim is no longer held (its lease ran
   *   out and another worker took the job): nothing is written.
   */
  finish(claim: Claim, end: ClaimEnd, statements: ReadonlyArray<TransactionStatement>): Promise<void>
  /** Adds jobs; resolves with their ids, in order. Wakes idle workers where the engine can. */
  enqueue(jobs: readonly NewJob[], defaultMaxAttempts: number): Promise<string[]>
  /** Resolves when new jobs of `queue` may be ready: a notification, or `pollMs` passed, or `signal` aborted. */
  waitForJobs(queue: string, pollMs: number, signal: AbortSignal): Promise<void>
  /** Jobs by state (and queue). */
  counts(queue?: string): Promise<Record<JobState, number>>
  /** One job, as stored. */
  job(id: string): Promise<StoredJob | undefined>
  /** Closes the connection. */
  close(): Promise<void>
}

/** How a claim ends, as an engine writes it. */
export type ClaimEnd =
  | { readonly state: 'done' /** The result, as JSON text. */; readonly result: string }
  | { readonly state: 'failed'; readonly error: string; readonly retryAfterMs: number }
  | { readonly state: 'given-back'; readonly delayMs: number }

/** A job as stored in its table. */
export interface StoredJob {
  readonly id: string
  readonly queue: string
  readonly data: unknown
  readonly state: JobState
  readonly attempts: number
  readonly maxAttempts: number
  /** When it may run (pending) or ran last. */
  readonly runAt: Date
  /** A done job's result. */
  readonly result?: unknown
  /** The last failure's message. */
  readonly error?: string
  readonly createdAt: Date
  /** When it ended (done or failed), if it did. */
  readonly finishedAt?: Date
}
