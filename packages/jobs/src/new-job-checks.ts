/**
 * The checks every engine applies to a job being added, so that both
 * refuse the same bad values with the same words; and the one JSON
 * encoding of what a table stores.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import { JobTableError } from './errors.js'

/** A job's data (or result) as stored: JSON, refusing what JSON cannot hold. */
export function encodeData(data: unknown): string {
  const text = JSON.stringify(data)
  if (text === undefined) throw new JobTableError(`Cannot enqueue ${typeof data} data: a job's data must be a JSON value`)
  return text
}

/** The largest `maxAttempts` the tables hold (a 32-bit column). */
const MAX_ATTEMPTS_LIMIT = 2_147_483_647

/**
 * `maxAttempts` as given, when it is a whole number from 1.
 *
 * @throws InvalidOptionError otherwise.
 */
export function checkedMaxAttempts(maxAttempts: number): number {
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new InvalidOptionError(
      'maxAttempts',
      `Cannot enqueue a job with maxAttempts ${String(maxAttempts)}: expected a whole number from 1`,
    )
  }
  return maxAttempts
}

/**
 * `delayMs` as given, when it is a finite number of at least 0 (fractions of a millisecond are kept).
 *
 * @throws InvalidOptionError otherwise.
 */
export function checkedDelayMs(delayMs: number): number {
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > 8.64e15) {
    throw new InvalidOptionError(
      'delayMs',
      `Cannot enqueue a job with delayMs ${String(delayMs)}: expected a finite number of milliseconds, at least 0`,
    )
  }
  return delayMs
}
