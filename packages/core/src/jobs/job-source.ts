/**
 * The life of every source of jobs: start, claim on demand, record
 * outcomes, stop handing out, close.
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises'
import type { SourceAddress } from '../address.js'
import { channels } from '../diagnostics.js'
import { ServerClosedError, ServerNotReadyError } from '../errors.js'
import { AcceptQueue } from '../servers/accept-queue.js'
import type { AbortOptions, JobOutcome, RequestIterator, Server, ServerAddress, ServerObserver } from '../types.js'
import { Job, type JobInit } from './job.js'

/** One job a source claimed, as its `claim()` returns it. */
export interface ClaimedJob {
  /** The job's id in the source. */
  readonly id: string
  /** Its payload. */
  readonly data: unknown
  /** Which attempt this claim is, from 1. */
  readonly attempt: number
  /** The most attempts the source makes. */
  readonly maxAttempts: number
  /**
   * Optional: the source's own name for this claim, which no other claim of
   * the job shares (a job given back and claimed again has the same
   * attempt, but not the same claim). Sources with leases check it when
   * they record; it is the job's {@link Job.claimToken}.
   */
  readonly claimToken?: string
}

/** What a source handed out and recorded so far. */
export interface JobSourceStats {
  /** Jobs claimed and handed to consumers (or waiting for one). */
  received: number
  /** Jobs claimed and not yet taken by a consumer, right now. */
  waiting: number
  /** Jobs recorded as done. */
  done: number
  /** Jobs recorded as failed (each attempt counts). */
  failed: number
  /** Jobs given back unrun (a stop, a handler's `giveBack()`). */
  givenBack: number
  /** Outcomes the source could not store (`OutcomeNotRecordedError`). */
  unrecorded: number
  /** Claims that failed (the database was unreachable): reported, then retried with back-off. */
  claimFailures: number
}

/** Options of every source of jobs. */
export interface JobSourceOptions extends AbortOptions {
  /**
   * The most jobs one claim asks for: a claim asks for as many as
   * consumers wait (a `pooled({ concurrency: 8 })` asks for up to 8),
   * never more. Default {@link DEFAULT_CLAIM_BATCH}.
   */
  claimBatch?: number
}

/** How many jobs one claim asks for at most, by default. */
export const DEFAULT_CLAIM_BATCH = 64

/** The longest pause between claims that fail (a database that is down): 5 s. */
const MAX_CLAIM_BACKOFF_MS = 5_000

type State = 'new' | 'starting' | 'active' | 'stopped' | 'closed'

/**
 * What every source of jobs shares: a `Server<JobRequest>` that claims jobs
 * only when consumers wait for them (a job never sits claimed in a queue
 * nobody reads), hands them out as {@link Job}s, and stores each outcome
 * when its request closes. A subclass says how to connect, claim, wait for
 * new jobs, store an outcome and disconnect; everything else (iteration,
 * `stopAccepting()`, `close()`, `observe()`, stats, diagnostics) is here.
 *
 * Claims that fail (a database that went away) are reported to observers
 * (`serve()`'s `handleError`) and on `socketserver:server:acceptError`, and
 * retried with back-off up to 5 s. Jobs claimed once hand-outs stopped are
 * given back.
 *
 * @example
 * ```ts
 * class ListSource extends JobSource {
 *   readonly #jobs: ClaimedJob[]
 *   constructor(jobs: ClaimedJob[]) { super({}); this.#jobs = jobs }
 *   protected async connect() { return { transport: 'source', name: 'memory:list' } as const }
 *   protected async claim(count: number) { return this.#jobs.splice(0, count) }
 *   protected waitForJobs(signal: AbortSignal) { return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) }
 *   protected async record(job: Job, outcome: JobOutcome) { console.log(job.id, outcome.state) }
 *   protected async disconnect() {}
 * }
 * ```
 */
export abstract class JobSource<J extends Job = Job> implements Server<J> {
  readonly #queue: AcceptQueue<J>
  readonly #signal: AbortSignal | undefined
  readonly #claimBatch: number
  #state: State = 'new'
  #address: SourceAddress | undefined
  /** The claim loop's promise, for close() to wait on; `#claimLoopRunning` says whether it still runs. */
  #claiming: Promise<void> | undefined
  #claimLoopRunning = false
  /** Aborted to end a wait for new jobs: by {@link JobSource.wakeClaims} and by the stop. */
  #wake = new AbortController()
  /** Outcomes being stored now: close() waits for them before disconnecting. */
  readonly #recording = new Set<Promise<void>>()
  readonly #counts = { received: 0, done: 0, failed: 0, givenBack: 0, unrecorded: 0, claimFailures: 0 }
  readonly #observers = new Set<ServerObserver>()
  #closing: Promise<void> | undefined
  /** Set when close() has waited for what was being stored: outcomes from now on cannot be. */
  #disconnecting = false
  #toldClosed = false
  readonly #onAbort = (): void => void this.close().catch(() => {})

  /**
   * @param options - The signal that closes the source; `claimBatch`.
   * @throws RangeError when `claimBatch` is not a whole number of at least 1.
   */
  protected constructor(options: JobSourceOptions = {}) {
    const claimBatch = options.claimBatch ?? DEFAULT_CLAIM_BATCH
    if (!Number.isInteger(claimBatch) || claimBatch < 1) {
      throw new RangeError(`Cannot use claimBatch ${String(claimBatch)}: expected a whole number of at least 1`)
    }
    this.#claimBatch = claimBatch
    this.#signal = options.signal
    this.#queue = new AcceptQueue<J>(Number.POSITIVE_INFINITY, () => this.#claimOnDemand())
  }

  /** Connects to where the jobs are (creating what it needs there); resolves with the source's address. */
  protected abstract connect(): Promise<SourceAddress>

  /**
   * Claims up to `count` jobs that are ready now, for this source alone
   * (a lease, a lock), and resolves with them: fewer, or none, when fewer
   * are ready. Counts each claim as an attempt.
   */
  protected abstract claim(count: number): Promise<readonly ClaimedJob[]>

  /**
   * Resolves when new jobs may be ready (a notification, a poll interval
   * passed, a delayed job's time came), or when `signal` aborts: a claim
   * follows either way.
   */
  protected abstract waitForJobs(signal: AbortSignal): Promise<void>

  /**
   * Stores a job's outcome: done with its result, failed with its error
   * (to retry while attempts remain), or given back (the attempt not
   * counted). Rejects when it cannot (the job is then claimed again once
   * its lease ends).
   */
  protected abstract record(job: J, outcome: JobOutcome): Promise<void>

  /** Releases the connection; called once, after every outcome being stored was stored. */
  protected abstract disconnect(): Promise<void>

  /**
   * Makes the request for a claimed job: a {@link Job} by default; a
   * source whose jobs offer more (a table's `onDone()`) returns a subclass
   * (and is a `JobSource` of that class).
   */
  protected createJob(init: JobInit): J {
    return new Job(init) as J
  }

  /**
   * Reports a fault of the source that is not a request's (a failed claim,
   * a lease renewal that could not reach the database): to observers
   * (`serve()`'s `handleError`) and on `socketserver:server:acceptError`.
   */
  protected reportFault(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error))
    channels.serverAcceptError.publish({ server: this, error: failure })
    for (const observer of this.#observers) observer.dropped(failure)
  }

  /**
   * Connects and begins handing out jobs to iterators.
   *
   * Abort behaviour: if `options.signal` is already aborted, rejects with
   * its reason and connects nothing; aborting it later closes the source.
   *
   * @throws ServerClosedError when started or closed already; whatever
   *   `connect()` throws (the database cannot be opened).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new ServerClosedError(`Cannot start the source: it is ${this.#state}`)
    this.#signal?.throwIfAborted()
    this.#state = 'starting'
    try {
      this.#address = await this.connect()
    } catch (error) {
      this.#state = 'closed'
      throw error
    }
    if ((this.#state as State) !== 'starting') {
      await this.disconnect()
      throw new ServerClosedError('Cannot start the source: it was closed while connecting')
    }
    this.#state = 'active'
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    channels.serverListen.publish({ server: this })
    if (this.#signal?.aborted) this.#onAbort()
  }

  /** The source, as `{ transport: 'source', name }`. Throws `ServerNotReadyError` before `start()`. */
  get address(): ServerAddress<J> {
    if (this.#address === undefined) throw new ServerNotReadyError('Cannot read the address: the source is not started, call start() first')
    return this.#address as ServerAddress<J>
  }

  /** A source has no socket: -1. */
  fileno(): number {
    return -1
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#state === 'closed'
  }

  /** Jobs handed out and recorded so far (a snapshot). */
  get stats(): Readonly<JobSourceStats> {
    return { ...this.#counts, waiting: this.#queue.size }
  }

  /**
   * Yields each job a claim returns, claiming only while consumers wait,
   * until the source stops handing out. Several iterators may share a
   * source; each job goes to one.
   */
  [Symbol.asyncIterator](): RequestIterator<J> {
    if (this.#state === 'new' || this.#state === 'starting') {
      throw new ServerNotReadyError('Cannot iterate the source: it is not started, call start() first')
    }
    return this.#queue[Symbol.asyncIterator]()
  }

  /**
   * Ends the wait for new jobs at once, so that a claim follows now: call
   * it when you know jobs were added (an `enqueue()` in this process, a
   * notification).
   */
  protected wakeClaims(): void {
    const wake = this.#wake
    this.#wake = new AbortController()
    wake.abort()
  }

  /**
   * Stops handing out jobs (every iteration ends with `done`) and gives
   * back those claimed and not taken, while keeping the connection that
   * running jobs need to record their outcomes; `close()` follows once they
   * have ended. `serve()` calls it when it stops. Observers are told, as of
   * a close.
   */
  stopAccepting(): void {
    if (this.#state !== 'active') return
    this.#state = 'stopped'
    this.#endHandingOut()
  }

  /**
   * Stops handing out jobs, waits for a claim in progress (its jobs are
   * given back) and for outcomes being stored, then disconnects. Outcomes
   * recorded after that fail with `OutcomeNotRecordedError`: their jobs run
   * again once their leases end. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const wasConnected = this.#state !== 'new'
      this.#state = 'closed'
      this.#signal?.removeEventListener('abort', this.#onAbort)
      this.#endHandingOut()
      this.#closing = this.#close(wasConnected)
    }
    return this.#closing
  }

  async #close(wasConnected: boolean): Promise<void> {
    await this.#claiming
    while (this.#recording.size > 0) await Promise.allSettled([...this.#recording])
    this.#disconnecting = true
    if (wasConnected && this.#address !== undefined) await this.disconnect()
    channels.serverClose.publish({ server: this, dropped: 0 })
  }

  /** Closes the source; for `await using source = ...`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Tells `observer` of every claim that failed and once of the stop (see
   * {@link Server.observe}), until the returned function is called.
   *
   * @param observer - Told of failed claims and of the stop.
   * @returns Stops telling `observer`.
   */
  observe(observer: ServerObserver): () => void {
    this.#observers.add(observer)
    return () => {
      this.#observers.delete(observer)
    }
  }

  #endHandingOut(): void {
    this.#wake.abort()
    for (const job of this.#queue.end()) this.#giveBackUnrun(job)
    if (this.#toldClosed) return
    this.#toldClosed = true
    for (const observer of [...this.#observers]) observer.closed()
  }

  /** A consumer began to wait: claim, unless a claim loop runs already (it sees the new consumer). */
  #claimOnDemand(): void {
    if (this.#claimLoopRunning || this.#state !== 'active') return
    this.#claimLoopRunning = true
    // A consumer or observer that throws inside a hand-out is reported, never an unhandled rejection.
    this.#claiming = this.#claimWhileWanted().catch((error: unknown) => {
      try {
        this.reportFault(error)
      } catch {}
    })
  }

  async #claimWhileWanted(): Promise<void> {
    let backoffMs = 0
    try {
      while (this.#state === 'active' && this.#queue.consumersWaiting > 0) {
        const wake = this.#wake.signal
        let claimed: readonly ClaimedJob[]
        try {
          claimed = await this.claim(Math.min(this.#queue.demand, this.#claimBatch))
          backoffMs = 0
        } catch (error) {
          this.#counts.claimFailures++
          this.reportFault(error)
          backoffMs = Math.min(Math.max(backoffMs * 2, 50), MAX_CLAIM_BACKOFF_MS)
          await sleep(backoffMs, undefined, { signal: wake }).catch(() => {})
          continue
        }
        for (const found of claimed) this.#handOut(found)
        if (claimed.length > 0) continue
        try {
          await this.waitForJobs(wake)
        } catch (error) {
          if (!wake.aborted) this.reportFault(error)
        }
      }
    } finally {
      // In the same turn as the loop's last check, so a consumer that
      // begins to wait from the next turn on starts a new loop.
      this.#claimLoopRunning = false
    }
  }

  #handOut(found: ClaimedJob): void {
    const job = this.createJob({ ...found, server: this, record: (job, outcome) => this.#store(job as J, outcome) })
    // Claimed as serving stopped, or for a consumer that left, or for room
    // it no longer has: back to the source at once, where another worker
    // can take it, rather than held (and its lease renewed) in a queue
    // nobody reads. A consumer that takes a job pulls again in the same turn
    // (pooled() does), so every job of a claim it can start finds it waiting.
    if (this.#state !== 'active' || this.#queue.consumersWaiting === 0) {
      this.#giveBackUnrun(job)
      return
    }
    this.#counts.received++
    this.#queue.push(job)
  }

  /** A job claimed and never handed out: given back, its attempt not counted. */
  #giveBackUnrun(job: J): void {
    job.giveBack()
    job.close().catch((error: unknown) => this.reportFault(error))
  }

  #store(job: J, outcome: JobOutcome): Promise<void> {
    if (this.#disconnecting) {
      this.#counts.unrecorded++
      return Promise.reject(new ServerClosedError('Cannot store the outcome: the source was closed'))
    }
    const storing = this.record(job, outcome).then(
      () => {
        if (outcome.state === 'done') this.#counts.done++
        else if (outcome.state === 'failed') this.#counts.failed++
        else this.#counts.givenBack++
      },
      (error: unknown) => {
        this.#counts.unrecorded++
        throw error
      },
    )
    const tracked = storing.catch(() => {})
    this.#recording.add(tracked)
    void tracked.then(() => this.#recording.delete(tracked))
    return storing
  }
}
