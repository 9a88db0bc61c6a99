/**
 * A job's `onDone()` statements, run inside the transaction that marks it
 * done, within a deadline.
 *
 * @module
 */

import type { JobTransaction, TransactionStatement } from './engine.js'
import { JobTableError } from './errors.js'

/**
 * How long a job's `onDone()` statements may take, together: 5 s. They run
 * inside the transaction that ends the job's claim, holding a connection
 * (and, on SQLite, the write lock of every process); a statement that
 * waits for something else (the table's own `enqueue()`, which on SQLite
 * needs the connection the transaction holds) would hold them forever.
 */
export const DONE_STATEMENTS_MS = 5_000

/**
 * Runs a job's `onDone()` statements in the open transaction, within
 * {@link DONE_STATEMENTS_MS}, each through `query`; past it the transaction is rolled back by the
 * caller and a late `tx.query()` is refused.
 */
export async function runDoneStatements(statements: ReadonlyArray<TransactionStatement>, query: JobTransaction['query']): Promise<void> {
  if (statements.length === 0) return
  let open = true
  const tx: JobTransaction = {
    query: async (sql, params = []) => {
      if (!open) throw new JobTableError("Cannot run the statement: its job's transaction has ended")
      return query(sql, params)
    },
  }
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new JobTableError(
            `Cannot mark the job done: its onDone() statements took longer than ${DONE_STATEMENTS_MS} ms (a statement must use tx.query(), not the table's own methods, which wait for the transaction it holds)`,
          ),
        ),
      DONE_STATEMENTS_MS,
    )
  })
  try {
    await Promise.race([
      (async () => {
        for (const statement of statements) await statement(tx)
      })(),
      deadline,
    ])
  } finally {
    open = false
    clearTimeout(timer)
  }
}
