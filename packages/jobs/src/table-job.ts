/**
 * The request for one job of a table.
 *
 * @module
 */

import { Job, type JobInit } from '@socketserver/core'
import type { TransactionStatement } from './engine.js'

/** A statement to run in the transaction that marks a job done. */
export type DoneStatement = TransactionStatement

/**
 * A job of a {@link JobTable}: a `JobRequest` whose handler may add
 * statements to the transaction that marks it done, so that what the job
 * wrote to the database and its `done` commit together or not at all.
 * A job whose worker died before that commit runs again, and its
 * statements never ran: exactly once, for what lives in the database.
 *
 * @example
 * ```ts
 * await serve(table, async (job: TableJob) => {
 *   const total = await charge(job.data)
 *   job.onDone((tx) => tx.query('INSERT INTO ledger (job_id, total) VALUES (?, ?)', [job.id, total]))
 *   return { total }
 * }, { signal })
 * ```
 */
export class TableJob extends Job {
  readonly #statements: DoneStatement[] = []

  /** @param init - As `Job`'s. */
  constructor(init: JobInit) {
    super(init)
  }

  /**
   * Adds a statement to the transaction that marks the job done (run in
   * the order added, before the job's own update). Not run when the job
   * fails or is given back; a statement that throws rolls the transaction
   * back, and the job's outcome is not recorded (it runs again once its
   * lease ends).
   *
   * @param statement - Given the transaction; runs SQL with `tx.query(sql, params)`.
   */
  onDone(statement: DoneStatement): void {
    this.#statements.push(statement)
  }

  /** The statements added with {@link TableJob.onDone}. */
  get doneStatements(): readonly DoneStatement[] {
    return this.#statements
  }
}
