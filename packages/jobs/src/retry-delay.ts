/**
 * How long a failed job waits before its next attempt.
 *
 * @module
 */

/** Capped exponential back-off: the delay after a failed attempt. */
export interface RetryBackoff {
  /** The delay after the first failed attempt, in milliseconds. Default 1,000. */
  readonly baseMs?: number
  /** The longest delay, in milliseconds. Default 3,600,000 (1 h). */
  readonly maxMs?: number
}

/**
 * The delay before the attempt after `attempt` failed: `baseMs` doubled
 * per attempt, capped at `maxMs`, with up to a tenth of jitter (so jobs
 * that failed together do not all return at once).
 *
 * @param attempt - The attempt that failed, from 1.
 * @param backoff - `baseMs`, `maxMs`.
 * @returns Milliseconds to wait.
 * @example
 * ```ts
 * retryDelayMs(3, { baseMs: 1_000 }) // about 4,000
 * ```
 */
export function retryDelayMs(attempt: number, backoff: RetryBackoff = {}): number {
  const baseMs = backoff.baseMs ?? 1_000
  const maxMs = backoff.maxMs ?? 3_600_000
  const delay = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 52))
  return Math.round(delay * (1 - Math.random() * 0.1))
}
