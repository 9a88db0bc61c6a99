/**
 * Many requests at once in this process, bounded.
 *
 * @module
 */

import { InvalidOptionError } from '../errors.js'
import { TAKE_NOW, type TakeNow } from '../servers/accept-queue.js'
import type { Policy } from '../types.js'

/**
 * How many requests `pooled()` runs at once by default. Python's
 * ThreadingMixIn has no bound at all, so a flood of connections is a flood
 * of threads (bpo-37193). A request here costs a promise and a socket, not a
 * thread, so the bound can be generous.
 */
export const DEFAULT_CONCURRENCY = 1_024

/** Options of {@link pooled}. */
export interface PooledOptions {
  /** The most requests running at once. Default {@link DEFAULT_CONCURRENCY}. */
  concurrency?: number
  /**
   * When the server stops, wait for running requests before the stage ends
   * (Python's `block_on_close`). Default true.
   */
  blockOnClose?: boolean
  /**
   * Running requests do not keep the process alive: their sockets are
   * unref'd (Python's `daemon_threads`). Default false.
   */
  daemon?: boolean
}

/**
 * Serves up to `concurrency` requests at once. The next request is pulled
 * from the server only when a slot is free, so at the limit new clients wait
 * in the kernel backlog instead of piling up in memory. Outcomes are yielded
 * as requests finish. Python counterpart: `ThreadingMixIn`
 * (`ThreadingTCPServer`), bounded.
 *
 * @param options - `concurrency`, `blockOnClose`, `daemon`.
 * @returns A policy: `pooled(options)(run)` is an it-pipe transform.
 * @throws InvalidOptionError when `concurrency` is not a positive integer.
 * @example
 * ```ts
 * await serve(server, handler, { policy: pooled({ concurrency: 100 }), signal })
 * ```
 */
export function pooled(options: PooledOptions = {}): Policy {
  const limit = options.concurrency ?? DEFAULT_CONCURRENCY
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidOptionError('concurrency', `Cannot use concurrency ${JSON.stringify(limit)}: expected an integer of 1 or more`)
  }
  const blockOnClose = options.blockOnClose ?? true
  const daemon = options.daemon ?? false
  return (run) => (source) => runPooled(source, run, limit, blockOnClose && !daemon, daemon)
}

/**
 * The bounded parallel stage behind `pooled()` (and `forked()`).
 *
 * @internal
 */
export async function* runPooled<R, O>(
  source: AsyncIterable<R>,
  run: (request: R) => Promise<O>,
  limit: number,
  blockOnClose: boolean,
  daemon: boolean,
): AsyncGenerator<O, void, undefined> {
  const iterator = source[Symbol.asyncIterator]()
  // A server's own iterator hands over ready requests without a promise turn.
  const takeNow = (iterator as Partial<TakeNow<R>>)[TAKE_NOW]?.bind(iterator)
  const finished: O[] = []
  let running = 0
  let pulling = false
  let pulled: IteratorResult<R> | undefined
  let failure: { error: unknown } | undefined
  let exhausted = false
  let notify: (() => void) | undefined
  const wake = (): void => {
    const resolve = notify
    notify = undefined
    resolve?.()
  }
  const start = (request: R): void => {
    running++
    if (daemon) (request as { socket?: { unref?: () => void } }).socket?.unref?.()
    run(request).then(
      (outcome) => {
        running--
        finished.push(outcome)
        wake()
      },
      (error: unknown) => {
        running--
        failure ??= { error }
        wake()
      },
    )
  }
  try {
    for (;;) {
      if (pulled !== undefined) {
        const result = pulled
        pulled = undefined
        if (result.done === true) exhausted = true
        else start(result.value)
      }
      if (failure !== undefined) throw failure.error
      if (takeNow !== undefined && !exhausted && !pulling) {
        while (running < limit) {
          const request = takeNow()
          if (request === undefined) break
          start(request)
        }
      }
      if (!exhausted && !pulling && running < limit) {
        pulling = true
        iterator.next().then(
          (result) => {
            pulling = false
            pulled = result
            wake()
          },
          (error: unknown) => {
            pulling = false
            exhausted = true
            failure ??= { error }
            wake()
          },
        )
      }
      while (finished.length > 0) yield finished.shift() as O
      if (exhausted && !pulling && (running === 0 || !blockOnClose)) return
      if (pulled === undefined && failure === undefined && finished.length === 0) {
        // Requests that finished while we yielded may have freed slots with
        // no pull under way: go round again to fill them, else nothing
        // would ever wake us.
        if (!exhausted && !pulling && running < limit) continue
        await new Promise<void>((resolve) => {
          notify = resolve
        })
      }
    }
  } finally {
    if (!exhausted) await iterator.return?.()
  }
}
