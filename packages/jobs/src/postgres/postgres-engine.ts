/**
 * The PostgreSQL engine: many workers on many machines over one table,
 * claims with `FOR UPDATE SKIP LOCKED` in batches, leases renewed by the
 * heartbeat, `LISTEN/NOTIFY` to wake idle workers at once.
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises'
import type { ClaimedJob, SourceAddress } from '@socketserver/core'
import pg from 'pg'
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
import { LeaseLostError } from '../errors.js'
import { checkedDelayMs, checkedMaxAttempts, encodeData } from '../new-job-checks.js'
import { redactPassword } from '../source-url.js'

/** The channel `enqueue()` notifies and idle workers listen on; the payload is the queue. */
export const NOTIFY_CHANNEL = 'socketserver_jobs'

/** The table and its indexes, created under an advisory lock so that workers starting together do not race. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS socketserver_jobs (
  id BIGSERIAL PRIMARY KEY,
  queue TEXT NOT NULL DEFAULT 'default',
  data JSONB NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claims INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  lease_until TIMESTAMPTZ,
  locked_by TEXT,
  result JSONB,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at TIMESTAMPTZ
);
ALTER TABLE socketserver_jobs ADD COLUMN IF NOT EXISTS claims INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS socketserver_jobs_ready ON socketserver_jobs (queue, run_at, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS socketserver_jobs_leases ON socketserver_jobs (lease_until) WHERE state = 'running';
`

const RESCUE = `
UPDATE socketserver_jobs
SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN now() ELSE NULL END,
    last_error = 'attempt ' || attempts || ': its worker stopped renewing the lease (it stalled, crashed or was killed)',
    lease_until = NULL, locked_by = NULL, run_at = now()
WHERE id IN (SELECT id FROM socketserver_jobs WHERE state = 'running' AND lease_until < now() FOR UPDATE SKIP LOCKED)`

const CLAIM = `
UPDATE socketserver_jobs AS job
SET state = 'running', attempts = job.attempts + 1, claims = job.claims + 1, lease_until = now() + $3::float8 * interval '1 millisecond', locked_by = $2
FROM (SELECT id FROM socketserver_jobs WHERE state = 'pending' AND queue = $1 AND run_at <= now()
      ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) AS ready
WHERE job.id = ready.id
RETURNING job.id, job.data, job.attempts, job.max_attempts, job.claims`

const RENEW = `
UPDATE socketserver_jobs AS job SET lease_until = now() + $2::float8 * interval '1 millisecond'
FROM unnest($3::bigint[], $4::int[]) AS claim(id, claims)
WHERE job.id = claim.id AND job.claims = claim.claims AND job.state = 'running' AND job.locked_by = $1
RETURNING job.id, job.claims`

const INSERT = `
INSERT INTO socketserver_jobs (queue, data, max_attempts, run_at)
SELECT queue, data, max_attempts, now() + delay_ms::float8 * interval '1 millisecond'
FROM unnest($1::text[], $2::jsonb[], $3::int[], $4::float8[]) AS job(queue, data, max_attempts, delay_ms)
RETURNING id`

/** The claim, in a WHERE: the job is running, under this worker, in this attempt. */
const HELD = `id = $1 AND state = 'running' AND locked_by = $2 AND claims = $3`

/** The update that ends a claim as `end` says, and its parameters. */
function endOfClaim(claim: Claim, end: ClaimEnd): [string, unknown[]] {
  const held = [claim.id, claim.worker, Number(claim.token)]
  if (end.state === 'done') {
    return [
      `UPDATE socketserver_jobs SET state = 'done', result = $4, finished_at = now(), lease_until = NULL, locked_by = NULL WHERE ${HELD}`,
      [...held, end.result],
    ]
  }
  if (end.state === 'failed') {
    return [
      `UPDATE socketserver_jobs
       SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN now() ELSE NULL END,
           run_at = now() + $4::float8 * interval '1 millisecond', last_error = $5, lease_until = NULL, locked_by = NULL
       WHERE ${HELD}`,
      [...held, end.retryAfterMs, end.error],
    ]
  }
  return [
    `UPDATE socketserver_jobs SET state = 'pending', attempts = attempts - 1, run_at = now() + $4::float8 * interval '1 millisecond',
       lease_until = NULL, locked_by = NULL WHERE ${HELD}`,
    [...held, end.delayMs],
  ]
}

/** Errors that mean the connection, not the statement, failed: retried. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03'])

/** Whether `error` is the connection failing (the server restarted, the network dropped) rather than the statement. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true
  return (
    typeof message === 'string' && /Connection terminated|connection is closed|Client has encountered a connection error/i.test(message)
  )
}

/** How soon an idle worker looks again when due jobs are locked by other workers' claims. */
const DUE_RECHECK_MS = 25

/** How long finishing a claim keeps retrying through a lost connection: until about then the lease holds anyway. */
const FINISH_RETRY_LIMIT_MS = 30_000

/** Options of the engine. */
export interface PostgresEngineOptions {
  /** Connections in the pool. Default 10. */
  readonly poolSize?: number
}

interface Row {
  id: string
  queue: string
  data: unknown
  state: JobState
  attempts: number
  claims: number
  max_attempts: number
  run_at: Date
  result: unknown
  last_error: string | null
  created_at: Date
  finished_at: Date | null
}

/**
 * The PostgreSQL engine over `pg`: a pool for claims and records, one more
 * connection that LISTENs (re-established with back-off when it drops;
 * meanwhile idle workers poll). Every time is the database's `now()`, so
 * workers on machines whose clocks differ agree on leases.
 */
export class PostgresEngine implements TableEngine {
  readonly address: SourceAddress
  /** Idle workers are woken by NOTIFY; the poll is for delayed jobs, retries and expired leases. */
  readonly defaultPollMs = 2_000
  readonly #url: string
  readonly #pool: pg.Pool
  #listener: pg.Client | undefined
  /** The reconnection of the listening connection, while one runs. */
  #reconnecting: Promise<void> | undefined
  #closed = false
  /** Aborted by close(): ends a reconnection's back-off at once. */
  readonly #closing = new AbortController()
  /** Waits for a notification, by queue. */
  readonly #waiters = new Map<string, Set<() => void>>()
  /** When this worker last returned expired leases to the table: at most every quarter lease. */
  #lastRescue = 0

  /** @param url - `postgres://USER:PASSWORD@HOST/DATABASE` (`?host=/socket/dir` for a Unix socket). */
  constructor(url: string, options: PostgresEngineOptions = {}) {
    this.#url = url
    this.address = { transport: 'source', name: redactPassword(url) }
    this.#pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 })
    // An idle client whose server went away: the next query gets a new one.
    this.#pool.on('error', () => {})
  }

  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('socketserver_jobs'))`)
      await client.query(SCHEMA)
    })
    await this.#listen()
  }

  async claim(queue: string, worker: string, count: number, leaseMs: number): Promise<ClaimedJob[]> {
    if (Date.now() - this.#lastRescue > leaseMs / 4) {
      this.#lastRescue = Date.now()
      await this.#pool.query(RESCUE)
    }
    const { rows } = await this.#pool.query<Pick<Row, 'id' | 'data' | 'attempts' | 'max_attempts' | 'claims'>>(CLAIM, [
      queue,
      worker,
      leaseMs,
      count,
    ])
    rows.sort((a, b) => Number(a.id) - Number(b.id))
    return rows.map((row) => ({
      id: String(row.id),
      data: row.data,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      claimToken: String(row.claims),
    }))
  }

  async renew(
    worker: string,
    claims: ReadonlyArray<{ readonly id: string; readonly token: string }>,
    leaseMs: number,
  ): Promise<Set<string>> {
    const { rows } = await this.#pool.query<{ id: string; claims: number }>(RENEW, [
      worker,
      leaseMs,
      claims.map((claim) => claim.id),
      claims.map((claim) => Number(claim.token)),
    ])
    return new Set(rows.map((row) => claimKey({ id: String(row.id), token: String(row.claims) })))
  }

  async finish(claim: Claim, end: ClaimEnd, statements: ReadonlyArray<TransactionStatement>): Promise<void> {
    // One statement per job, on the pool's connections at once: PostgreSQL
    // commits concurrent transactions together already. (Batching done jobs
    // into one statement here, 4 batches in flight, measured slower:
    // 2,415/2,751/2,363 jobs/s with 1/2/4 workers against 2,712/3,481/2,879,
    // bench/jobs.mjs, 20,000 jobs, same run.)
    await this.#throughDroppedConnections(() => this.#finishOnce(claim, end, statements))
  }

  /** Runs `write` again while the connection is what failed (a restart of the server), for up to 30 s. */
  async #throughDroppedConnections<T>(write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + FINISH_RETRY_LIMIT_MS
    for (let backoffMs = 50; ; backoffMs = Math.min(backoffMs * 2, 2_000)) {
      try {
        return await write()
      } catch (error) {
        if (!isConnectionError(error) || Date.now() + backoffMs > deadline || this.#closed) throw error
        await sleep(backoffMs)
      }
    }
  }

  /**
   * One try: the update that ends the claim, checked against it (worker and
   * attempt) in its own WHERE, so that a job without `onDone()` statements
   * costs one round trip; with them, the update (which locks the row) and
   * the statements share a transaction.
   */
  async #finishOnce(claim: Claim, end: ClaimEnd, statements: ReadonlyArray<TransactionStatement>): Promise<void> {
    const [sql, params] = endOfClaim(claim, end)
    if (end.state !== 'done' || statements.length === 0) {
      const { rowCount } = await this.#pool.query(sql, params)
      if (rowCount !== 1) throw new LeaseLostError(claim.id, claim.attempt)
      return
    }
    await this.#transaction(async (client) => {
      const { rowCount } = await client.query(sql, params)
      if (rowCount !== 1) throw new LeaseLostError(claim.id, claim.attempt)
      await runDoneStatements(statements, async (text, values = []) => (await client.query(text, values as unknown[])).rows)
    })
  }

  async enqueue(jobs: readonly NewJob[], defaultMaxAttempts: number): Promise<string[]> {
    return this.#transaction((client) => enqueueJobs(client, jobs, { maxAttempts: defaultMaxAttempts }))
  }

  async waitForJobs(queue: string, pollMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    // Listening first, so that a NOTIFY during the query below is not missed.
    let finish: () => void = () => {}
    let timer: NodeJS.Timeout | undefined
    const woken = new Promise<void>((resolve) => {
      const waiters = this.#waiters.get(queue) ?? new Set()
      this.#waiters.set(queue, waiters)
      finish = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', finish)
        waiters.delete(finish)
        resolve()
      }
      signal.addEventListener('abort', finish, { once: true })
      waiters.add(finish)
    })
    // A delayed or retried job notifies nobody when its time comes: wake for the earliest, at the latest after pollMs.
    let waitMs = pollMs
    try {
      const { rows } = await this.#pool.query<{ due_ms: number | null }>(
        `SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS due_ms FROM socketserver_jobs WHERE state = 'pending' AND queue = $1`,
        [queue],
      )
      const dueMs = rows[0]?.due_ms
      // Due already, yet the claim before this found nothing: other workers hold those rows' locks now. Look again soon, not at once.
      if (dueMs !== null && dueMs !== undefined) waitMs = Math.min(pollMs, Math.max(DUE_RECHECK_MS, Math.ceil(dueMs)))
    } catch {
      // The server is away: wait the poll interval, then the claim reports it.
    }
    timer = setTimeout(finish, waitMs)
    await woken
  }

  async counts(queue?: string): Promise<Record<JobState, number>> {
    const { rows } = await this.#pool.query<{ state: JobState; n: string }>(
      queue === undefined
        ? 'SELECT state, count(*) AS n FROM socketserver_jobs GROUP BY state'
        : 'SELECT state, count(*) AS n FROM socketserver_jobs WHERE queue = $1 GROUP BY state',
      queue === undefined ? [] : [queue],
    )
    const counts: Record<JobState, number> = { pending: 0, running: 0, done: 0, failed: 0 }
    for (const row of rows) counts[row.state] = Number(row.n)
    return counts
  }

  async job(id: string): Promise<StoredJob | undefined> {
    const { rows } = await this.#pool.query<Row>('SELECT * FROM socketserver_jobs WHERE id = $1', [id])
    const row = rows[0]
    if (row === undefined) return undefined
    return {
      id: String(row.id),
      queue: row.queue,
      data: row.data,
      state: row.state,
      attempts: row.attempts,
      maxAttempts: row.max_attempts,
      runAt: row.run_at,
      ...(row.result === null ? {} : { result: row.result }),
      ...(row.last_error === null ? {} : { error: row.last_error }),
      createdAt: row.created_at,
      ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#closing.abort()
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake()
    await this.#reconnecting
    await this.#listener?.end().catch(() => {})
    this.#listener = undefined
    await this.#pool.end()
  }

  /** Runs `body` in a transaction on one pooled connection; rolls back if it throws. */
  async #transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await body(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      broken = isConnectionError(error)
      if (!broken) await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release(broken)
    }
  }

  /** LISTENs on a connection of its own; the first one must succeed (migrate() fails otherwise). */
  async #listen(): Promise<void> {
    this.#listener = await this.#connectListener()
  }

  /**
   * A connected, listening client; one whose connection drops hands the
   * reconnection to {@link PostgresEngine.#listenerLost}. A client that
   * fails to connect is ended and forgotten (pg also emits 'end' for it,
   * which must not start a second reconnection).
   */
  async #connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.#url })
    client.on('notification', (message) => {
      const waiters = this.#waiters.get(message.payload ?? 'default')
      if (waiters !== undefined) for (const wake of [...waiters]) wake()
    })
    let connected = false
    const lost = (): void => {
      if (connected) this.#listenerLost(client)
    }
    client.on('error', lost)
    client.on('end', lost)
    try {
      await client.connect()
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`)
    } catch (error) {
      await client.end().catch(() => {})
      throw error
    }
    connected = true
    return client
  }

  /** The listening connection dropped: one reconnection, with back-off, until it is back or the engine closes. */
  #listenerLost(client: pg.Client): void {
    if (this.#listener !== client) return
    this.#listener = undefined
    client.end().catch(() => {})
    // Jobs added while no one listened: every waiting worker looks now.
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake()
    if (this.#closed || this.#reconnecting !== undefined) return
    this.#reconnecting = this.#reconnect().finally(() => {
      this.#reconnecting = undefined
    })
  }

  async #reconnect(): Promise<void> {
    for (let backoffMs = 100; !this.#closed; backoffMs = Math.min(backoffMs * 2, 5_000)) {
      await sleep(backoffMs, undefined, { signal: this.#closing.signal }).catch(() => {})
      if (this.#closed) return
      let client: pg.Client
      try {
        client = await this.#connectListener()
      } catch {
        continue // still away; meanwhile idle workers poll
      }
      if (this.#closed) {
        await client.end().catch(() => {})
        return
      }
      this.#listener = client
      return
    }
  }
}

/**
 * What {@link enqueueJobs} needs of a client: `pg`'s `Client`, `PoolClient`
 * and `Pool` all are one (described here so that this package's types do
 * not require `@types/pg`).
 */
export interface QueryClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>
}

/**
 * Adds jobs through `client`, in the caller's transaction when it has one
 * open: they become visible, and idle workers are notified, when it
 * commits, and vanish with it when it rolls back.
 *
 * @param client - A `pg` client or pool (a transaction's client to add inside it).
 * @param jobs - Each with its `data` and options.
 * @param defaults - `maxAttempts` for jobs that do not say (default 5); `queue` (default `default`).
 * @returns The new jobs' ids, in order.
 * @example
 * ```ts
 * await client.query('BEGIN')
 * await client.query('INSERT INTO orders ...')
 * await enqueueJobs(client, [{ data: { order: 7 } }])
 * await client.query('COMMIT')
 * ```
 */
export async function enqueueJobs(
  client: QueryClient,
  jobs: readonly NewJob[],
  defaults: { maxAttempts?: number; queue?: string } = {},
): Promise<string[]> {
  if (jobs.length === 0) return []
  const queues = jobs.map((job) => job.queue ?? defaults.queue ?? 'default')
  const data = jobs.map((job) => encodeData(job.data))
  const { rows } = await client.query(INSERT, [
    queues,
    data,
    jobs.map((job) => checkedMaxAttempts(job.maxAttempts ?? defaults.maxAttempts ?? 5)),
    jobs.map((job) => checkedDelayMs(job.delayMs ?? 0)),
  ])
  for (const queue of new Set(queues)) await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, queue])
  return (rows as Array<{ id: string }>).map((row) => String(row.id))
}
