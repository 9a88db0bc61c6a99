/**
 * The request object for one job: what a source of jobs hands out.
 *
 * @module
 */

import type { SourceAddress } from '../address.js'
import { DrainTimeoutError, OutcomeNotRecordedError, ServerStoppingError } from '../errors.js'
import { AbortState } from '../internal/abort-state.js'
import { ABORT_STATE } from '../internal/fast-paths.js'
import { isStopNotice } from '../request-failure.js'
import type { HandlerEnding, JobOutcome, JobRequest, Request, Server } from '../types.js'

/** Stores a job's outcome in its source; resolves once it is stored. */
export type RecordOutcome = (job: Job, outcome: JobOutcome) => Promise<void>

/** What a source knows of a job when it hands it out. */
export interface JobInit {
  /** The job's id in its source. */
  readonly id: string
  /** Its payload, as enqueued. */
  readonly data: unknown
  /** Which attempt this is, from 1. */
  readonly attempt: number
  /** The most attempts its source makes. */
  readonly maxAttempts: number
  /** The source's name for this claim, if it has one (see `ClaimedJob.claimToken`). */
  readonly claimToken?: string
  /** The source that hands it out (its `address` is the job's `clientAddress`). */
  readonly server: Server<JobRequest>
  /** Stores the outcome; called once, by {@link Job.close}. */
  readonly record: RecordOutcome
}

/**
 * A {@link JobRequest} over one function that stores its outcome: a source
 * of jobs makes one per job it hands out, and `serve()` does the rest (the
 * handler's value or error becomes the outcome, `close()` stores it).
 * Public so that sources of your own are written from the same piece as
 * ours.
 *
 * The outcome when nothing recorded one: a handler that returned `value`
 * is done with it (or with its written text when `value` is undefined, or
 * `null`); a handler that failed is failed, except when it ended because
 * serving stopped (the stop notice, the drain deadline): that job is given
 * back, since the worker left it, not the job. A job closed without
 * running (a policy that stopped first) is given back; one aborted and
 * closed without a handler (a loop of your own) is failed with the abort
 * reason.
 *
 * @example
 * ```ts
 * const job = new Job({ id: '7', data: { to: 'a@b' }, attempt: 1, maxAttempts: 5, server: source,
 *   record: (job, outcome) => store(job.id, outcome) })
 * ```
 */
export class Job implements JobRequest {
  readonly kind = 'job' as const
  readonly id: string
  readonly data: unknown
  readonly attempt: number
  readonly maxAttempts: number
  /** The source's name for this claim, if it gave one: no other claim of this job has it. */
  readonly claimToken: string | undefined
  readonly server: Server<Request>
  /** @internal The runner's fast path: abort and stop without an `AbortSignal` per job. */
  readonly [ABORT_STATE] = new AbortState()
  readonly #source: Server<JobRequest>
  readonly #record: RecordOutcome
  #outcome: JobOutcome | undefined
  #output: string | undefined
  #closing: Promise<void> | undefined

  /** @param init - The job's id, data, attempt, source, and how to store its outcome. */
  constructor(init: JobInit) {
    this.id = init.id
    this.data = init.data
    this.attempt = init.attempt
    this.maxAttempts = init.maxAttempts
    this.claimToken = init.claimToken
    this.#source = init.server
    this.server = init.server as Server<Request>
    this.#record = init.record
  }

  /** The source the job comes from. */
  get clientAddress(): SourceAddress {
    return this.#source.address
  }

  get signal(): AbortSignal {
    return this[ABORT_STATE].signal
  }

  get stopping(): AbortSignal {
    return this[ABORT_STATE].stopping
  }

  get outcome(): JobOutcome | undefined {
    return this.#outcome
  }

  /** What the job wrote with {@link Job.write}, if anything. */
  get output(): string | undefined {
    return this.#output
  }

  write(chunk: string | Uint8Array): void {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8')
    this.#output = (this.#output ?? '') + text
  }

  complete(result?: unknown): void {
    this.#outcome ??= { state: 'done', result: result === undefined ? null : result }
  }

  fail(error: unknown): void {
    this.#outcome ??= { state: 'failed', error }
  }

  giveBack(options: { delayMs?: number } = {}): void {
    const delayMs = options.delayMs ?? 0
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(`Cannot give the job back with delayMs ${String(delayMs)}: expected a finite number of at least 0`)
    }
    this.#outcome ??= { state: 'given-back', delayMs }
  }

  /** Records how the handler ended, unless an outcome was recorded already (see the class's description). */
  handled(ending: HandlerEnding): void {
    if (this.#outcome !== undefined) return
    if (!ending.failed) this.complete(ending.value !== undefined ? ending.value : (this.#output ?? null))
    else if (endedByStop(ending.error, this.stopping)) this.giveBack()
    else this.fail(ending.error)
  }

  /** Aborts `stopping`: the handler learns that serving is stopping. */
  stop(reason?: unknown): void {
    this[ABORT_STATE].beginStop(reason ?? new ServerStoppingError())
  }

  abort(reason?: unknown): void {
    this[ABORT_STATE].abort(reason)
  }

  /**
   * Stores the outcome in the source, once; resolves when it is stored.
   *
   * @throws OutcomeNotRecordedError (it rejects) when the source could not
   *   store it (its database is gone, the lease was lost): the job then
   *   runs again once its lease ends, so nothing is lost, but this attempt's
   *   outcome is.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const state = this[ABORT_STATE]
      if (this.#outcome === undefined) {
        if (state.aborted && !endedByStop(state.reason, this.stopping)) this.fail(state.reason)
        else this.giveBack()
      }
      const outcome = this.#outcome as JobOutcome
      let storing: Promise<void>
      try {
        storing = this.#record(this, outcome)
      } catch (error) {
        storing = Promise.reject(error)
      }
      this.#closing = storing.catch((error: unknown) => {
        throw new OutcomeNotRecordedError(this.clientAddress, this.id, outcome.state, error)
      })
    }
    return this.#closing
  }
}

/** Whether a failure is serving's stop rather than the job's: the stop notice, or the drain deadline. */
function endedByStop(error: unknown, stopping: AbortSignal): boolean {
  if (error instanceof DrainTimeoutError || error instanceof ServerStoppingError) return true
  return stopping.aborted && isStopNotice(error, stopping.reason)
}
