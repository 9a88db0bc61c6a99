/**
 * Jobs from a table, served by `serve()` like requests from a socket: a
 * SQLite file by default (embedded, no server to run), PostgreSQL to
 * scale out. Claims hold leases that their worker renews while a job runs;
 * outcomes are written in the transaction that ends the claim.
 *
 * @example
 * ```ts
 * import { serve } from '@socketserver/core'
 * import { JobTable } from '@socketserver/jobs'
 *
 * const table = await JobTable.open({ url: 'sqlite:jobs.db' })
 * await table.enqueue({ n: 21 })
 * await serve(table, (job) => (job.data as { n: number }).n * 2, { signal })
 * ```
 *
 * @packageDocumentation
 */

export {
  type Claim,
  type ClaimEnd,
  claimKey,
  type JobState,
  type JobTransaction,
  type NewJob,
  type StoredJob,
  type TableEngine,
  type TransactionStatement,
} from './engine.js'
export { JobTableError, LeaseLostError } from './errors.js'
export {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_POSTGRES_POLL_MS,
  DEFAULT_SQLITE_POLL_MS,
  type EnqueueOptions,
  JobTable,
  type JobTableOptions,
} from './job-table.js'
export {
  enqueueJobs,
  isConnectionError,
  NOTIFY_CHANNEL,
  PostgresEngine,
  type PostgresEngineOptions,
  type QueryClient,
} from './postgres/postgres-engine.js'
export { type RetryBackoff, retryDelayMs } from './retry-delay.js'
export { parseSourceUrl, redactPassword, type SourceUrl } from './source-url.js'
export { SqliteEngine } from './sqlite/sqlite-engine.js'
export { type DoneStatement, TableJob } from './table-job.js'
