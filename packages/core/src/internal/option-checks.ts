/**
 * The checks every option of the core goes through: integers with a
 * minimum, durations and wait limits in milliseconds. Each returns the
 * value or throws `InvalidOptionError` naming the option.
 *
 * @module
 * @internal
 */

import { InvalidOptionError } from '../errors.js'

/** The largest delay a Node timer takes (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** An integer option of `minimum` or more. */
export function integerAtLeast(option: string, value: number, minimum: number): number {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new InvalidOptionError(option, `Cannot use ${option} ${JSON.stringify(value)}: expected an integer of ${minimum} or more`)
  }
  return value
}

/** An integer option of 1 or more. */
export function positiveInteger(option: string, value: number): number {
  return integerAtLeast(option, value, 1)
}

/** An integer option of 0 or more. */
export function nonNegativeInteger(option: string, value: number): number {
  return integerAtLeast(option, value, 0)
}

/** Milliseconds from 0 to {@link MAX_TIMER_MS}, or undefined (not given). */
export function durationMs(option: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(option, `Cannot use ${option} ${JSON.stringify(value)}: expected milliseconds from 0 to ${MAX_TIMER_MS}`)
  }
  return value
}

/** A wait limit: milliseconds from 1 to {@link MAX_TIMER_MS}, or `Infinity` for never. */
export function waitLimit(option: string, value: number): number {
  if (typeof value !== 'number' || !(value === Number.POSITIVE_INFINITY || (value >= 1 && value <= MAX_TIMER_MS))) {
    // String(): JSON would print NaN and -Infinity as null.
    const shown = typeof value === 'number' ? String(value) : JSON.stringify(value)
    throw new InvalidOptionError(
      option,
      `Cannot use ${option} ${shown}: expected milliseconds from 1 to ${MAX_TIMER_MS}, or Infinity for never`,
    )
  }
  return value
}
