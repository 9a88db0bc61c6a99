/**
 * Many requests at once in this process, bounded.
 *
 * @module
 */

import { positiveInteger } from '../internal/option-checks.js'
import type { Outcomes, Policy, RunRequest } from '../types.js'
import { PooledRun } from './pooled-run.js'

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
  const limit = positiveInteger('concurrency', options.concurrency ?? DEFAULT_CONCURRENCY)
  const blockOnClose = options.blockOnClose ?? true
  const daemon = options.daemon ?? false
  return (run) => (source) => runPooled(source, run, limit, blockOnClose && !daemon, daemon)
}

/**
 * The bounded parallel stage behind `pooled()` (and `forked()`): see
 * {@link PooledRun}.
 *
 * @internal
 */
export function runPooled<R, O>(
  source: AsyncIterable<R>,
  run: RunRequest<R, O>,
  limit: number,
  blockOnClose: boolean,
  daemon: boolean,
): AsyncIterableIterator<O> & Outcomes<O> {
  return new PooledRun(source, run, limit, blockOnClose, daemon)
}
