/**
 * Typed errors of `@socketserver/jobs`.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * A job's claim was no longer held when its outcome was to be written: its
 * lease ran out (the worker stalled longer than `leaseMs`, or could not
 * reach the database to renew it) and the job was returned to the table,
 * or another worker holds it now. Nothing was written; the job's current
 * holder records it. `serve()` reports it (as the cause of an
 * `OutcomeNotRecordedError`).
 *
 * @example
 * ```ts
 * serve(table, handler, { handleError: (err) => { if (err.cause instanceof LeaseLostError) leasesLost++ } })
 * ```
 */
export class LeaseLostError extends SocketServerError {
  /** The job's id. */
  readonly jobId: string

  /**
   * @param jobId - The job's id.
   * @param attempt - The attempt whose claim was lost.
   */
  constructor(jobId: string, attempt: number) {
    super(
      `Cannot end attempt ${attempt} of job ${jobId}: its lease ran out and the job went back to the table (or to another worker)`,
      'SS_ERR_LEASE_LOST',
    )
    this.jobId = jobId
  }
}

/**
 * A table source cannot be used as asked: an unknown URL scheme, a file
 * that cannot be opened, a table of another shape.
 *
 * @example
 * ```ts
 * await JobTable.open({ url: 'mysql://db/jobs' }) // rejects: only sqlite: and postgres: are served
 * ```
 */
export class JobTableError extends SocketServerError {
  /**
   * @param message - What cannot be done, and why.
   * @param options - `cause`, the error underneath.
   */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, 'SS_ERR_JOB_TABLE', options)
  }
}
