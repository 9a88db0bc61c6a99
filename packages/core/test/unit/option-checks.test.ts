import { InvalidOptionError } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { durationMs, integerAtLeast, waitLimit } from '../../src/internal/option-checks.js'

describe('waitLimit()', () => {
  test('accepts milliseconds from 1 to the largest timer delay, and Infinity', () => {
    for (const value of [1, 1.5, 1_000, 2 ** 31 - 1, Number.POSITIVE_INFINITY]) expect(waitLimit('slowWaitMs', value)).toBe(value)
  })

  test('rejects anything else with InvalidOptionError naming the option', () => {
    for (const value of [0, 0.5, -1, 2 ** 31, Number.NaN, Number.NEGATIVE_INFINITY, '5' as unknown as number, null as unknown as number]) {
      expect(() => waitLimit('maxWaitMs', value)).toThrow(InvalidOptionError)
    }
    expect(() => waitLimit('maxWaitMs', -1)).toThrow(
      'Cannot use maxWaitMs -1: expected milliseconds from 1 to 2147483647, or Infinity for never',
    )
  })
})

describe('integerAtLeast() and durationMs()', () => {
  test('integers at or above the minimum pass; anything else is refused naming the option', () => {
    expect(integerAtLeast('prefork', 0, 0)).toBe(0)
    expect(() => integerAtLeast('maxChildren', 0, 1)).toThrow('Cannot use maxChildren 0: expected an integer of 1 or more')
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
      expect(() => integerAtLeast('backlog', value, 1)).toThrow(InvalidOptionError)
    }
  })

  test('durations from 0 to the largest timer delay pass, undefined stays undefined', () => {
    expect(durationMs('timeoutMs', undefined)).toBeUndefined()
    expect(durationMs('timeoutMs', 0)).toBe(0)
    expect(() => durationMs('drainTimeoutMs', -1)).toThrow('Cannot use drainTimeoutMs -1: expected milliseconds from 0 to 2147483647')
  })
})
