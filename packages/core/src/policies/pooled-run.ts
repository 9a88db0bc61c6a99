/**
 * The bounded parallel stage behind `pooled()` and `forked()`.
 *
 * @module
 * @internal
 */

import type { Outcomes, RequestIterator, RunRequest } from '../types.js'

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * Runs up to `limit` requests of `source` at once and iterates their
 * outcomes as they finish. An async iterator written out rather than an
 * async generator: a generator pays several promise turns per `yield` (an
 * implicit await of the value, then the consumer's resumption), which in
 * profiles of small datagram exchanges cost more than the rest of the
 * request's JavaScript. Here a ready outcome is one resolved promise.
 *
 * Requests are pulled and started as slots free, whether or not the
 * consumer is reading outcomes at that moment, but no more are started
 * while `limit` outcomes wait unread. When the source ends, iteration ends
 * once the running requests finished (`blockOnClose`) or at once. An error
 * from the source or a run ends iteration with that error; `return()` (a
 * `break`) stops pulling and ends the source, and the running requests
 * finish on their own.
 */
/**
 * Where a {@link PooledRun} is. One field says it; each is left only
 * forward, except `open` and `pulling`, which alternate:
 *
 * - `new`: nothing pulled yet; the first `next()` opens it.
 * - `open`: free to pull, whenever a slot is free and fewer than `limit`
 *   outcomes wait unread.
 * - `pulling`: a pull from the source is pending.
 * - `exhausted`: the source ended; iteration ends once the running
 *   requests have finished (`blockOnClose`) or at once.
 * - `failed`: a pull or a run failed; the next read ends the source (if it
 *   has not ended) and rejects with the failure.
 * - `ended`: iteration is over; outcomes still arriving are dropped.
 */
type Phase = 'new' | 'open' | 'pulling' | 'exhausted' | 'failed' | 'ended'

/** A failure, and whether the source had ended by then (so `return()` is not called on it). */
interface Failure {
  readonly error: unknown
  sourceEnded: boolean
}

export class PooledRun<R, O> implements AsyncIterableIterator<O>, Outcomes<O> {
  readonly #source: AsyncIterator<R>
  /** A server's own iterator hands over ready requests without a promise turn. */
  readonly #takeNow: (() => R | undefined) | undefined
  readonly #takeLater: ((deliver: (result: IteratorResult<R>) => void, room?: number) => void) | undefined
  readonly #run: RunRequest<R, O>
  /** The runner's callback form, when it has one: no promise per request. */
  readonly #runWithCallbacks: RunRequest<R, O>['runWithCallbacks']
  readonly #limit: number
  readonly #blockOnClose: boolean
  readonly #daemon: boolean
  #phase: Phase = 'new'
  /** Outcomes not yet read (none are kept once outcomes are discarded). */
  readonly #finished: O[] = []
  #running = 0
  #failure: Failure | undefined
  /** Whether the consumer asked for outcomes to be dropped ({@link PooledRun.discardOutcomes}). */
  #discarding = false
  #waiter: { resolve: (result: IteratorResult<O, undefined>) => void; reject: (error: unknown) => void } | undefined

  readonly #onPulled = (result: IteratorResult<R>): void => {
    if (this.#phase === 'pulling') this.#phase = result.done === true ? 'exhausted' : 'open'
    else if (result.done === true && this.#failure !== undefined) this.#failure.sourceEnded = true
    // A request pulled is served, even after a failure: nothing accepted is dropped.
    if (result.done !== true) this.#start(result.value)
    this.#pump()
    this.#settle()
  }

  readonly #onPullFailed = (error: unknown): void => {
    this.#failed(error, true)
    this.#settle()
  }

  readonly #onFinished = (outcome: O): void => {
    this.#running--
    if (this.#phase !== 'ended' && !this.#discarding) this.#finished.push(outcome)
    this.#pump()
    this.#settle()
  }

  readonly #onRunFailed = (error: unknown): void => {
    this.#running--
    this.#failed(error, this.#phase === 'exhausted')
    this.#settle()
  }

  constructor(source: AsyncIterable<R>, run: RunRequest<R, O>, limit: number, blockOnClose: boolean, daemon: boolean) {
    const iterator: RequestIterator<R> = source[Symbol.asyncIterator]()
    this.#source = iterator
    this.#takeNow = iterator.takeNow?.bind(iterator)
    this.#takeLater = iterator.takeLater?.bind(iterator)
    this.#run = run
    this.#runWithCallbacks = run.runWithCallbacks
    this.#limit = limit
    this.#blockOnClose = blockOnClose
    this.#daemon = daemon
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<O, undefined>> {
    if (this.#phase === 'new') {
      this.#phase = 'open'
      this.#pump()
    }
    if (this.#phase === 'failed') return this.#fail()
    const outcome = this.#take()
    if (outcome !== undefined) return Promise.resolve(outcome)
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject }
    })
  }

  /** From now on, drop outcomes: iteration yields nothing and ends as before (see {@link Outcomes.discardOutcomes}). */
  discardOutcomes(): void {
    this.#discarding = true
    this.#finished.length = 0
    this.#pump()
  }

  async return(): Promise<IteratorResult<O, undefined>> {
    await this.#end()
    return DONE
  }

  /** The first failure wins; once iteration ended, failures are dropped with the outcomes. */
  #failed(error: unknown, sourceEnded: boolean): void {
    if (this.#phase === 'ended') return
    if (this.#failure === undefined) this.#failure = { error, sourceEnded }
    else if (sourceEnded) this.#failure.sourceEnded = true
    this.#phase = 'failed'
  }

  /** What the consumer gets now, if anything: an outcome, or the end. (A failure is for the caller to check first.) */
  #take(): IteratorResult<O, undefined> | undefined {
    if (this.#phase === 'ended') return DONE
    if (this.#finished.length > 0) {
      const value = this.#finished.shift() as O
      // An unread outcome fewer may unblock pulling.
      this.#pump()
      return { done: false, value }
    }
    if (this.#phase === 'exhausted' && (this.#running === 0 || !this.#blockOnClose)) {
      this.#phase = 'ended'
      return DONE
    }
    return undefined
  }

  /** Hands the waiting consumer whatever is ready. */
  #settle(): void {
    const waiter = this.#waiter
    if (waiter === undefined) return
    if (this.#phase === 'failed') {
      this.#waiter = undefined
      this.#fail().catch(waiter.reject)
      return
    }
    const result = this.#take()
    if (result === undefined) return
    this.#waiter = undefined
    waiter.resolve(result)
  }

  /** Pulls and starts requests while slots are free. */
  #pump(): void {
    if (this.#phase !== 'open') return
    const limit = this.#limit
    const takeNow = this.#takeNow
    if (takeNow !== undefined) {
      while (this.#running < limit && this.#finished.length < limit) {
        const request = takeNow()
        if (request === undefined) break
        this.#start(request)
      }
    }
    // Checked again: a request that ended inside #start() pumped too, and
    // may have started the pull already (or ended everything).
    if (this.#phase === 'open' && this.#running < limit && this.#finished.length < limit) {
      this.#phase = 'pulling'
      // Every free slot could take a request: a source that fetches on
      // demand (a table of jobs) fetches that many in one go. An unread
      // outcome holds its slot too: counted with the running ones, the room
      // stays true while requests finish and nobody reads their outcomes.
      if (this.#takeLater !== undefined) this.#takeLater(this.#onPulled, Math.max(1, limit - this.#running - this.#finished.length))
      else this.#source.next().then(this.#onPulled, this.#onPullFailed)
    }
  }

  #start(request: R): void {
    this.#running++
    if (this.#daemon) (request as { socket?: { unref?: () => void } }).socket?.unref?.()
    if (this.#runWithCallbacks === undefined) {
      this.#run(request).then(this.#onFinished, this.#onRunFailed)
      return
    }
    try {
      this.#runWithCallbacks(request, this.#onFinished, this.#onRunFailed)
    } catch (error) {
      this.#onRunFailed(error)
    }
  }

  /** Ends iteration with the failure, once the source has been ended (whether or not that succeeds). */
  #fail(): Promise<never> {
    const error = (this.#failure as Failure).error
    const reject = (): Promise<never> => Promise.reject(error)
    return this.#end().then(reject, reject)
  }

  /** Stops for good: drops unread outcomes and ends the source if it has not ended. */
  async #end(): Promise<void> {
    const phase = this.#phase
    if (phase === 'ended') return
    this.#phase = 'ended'
    this.#finished.length = 0
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.resolve(DONE)
    const sourceEnded = phase === 'exhausted' || (phase === 'failed' && this.#failure?.sourceEnded === true)
    if (!sourceEnded) await this.#source.return?.()
  }
}
