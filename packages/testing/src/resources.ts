/**
 * Counting what a process holds open, to prove nothing leaks.
 *
 * @module
 */

import { readdirSync } from 'node:fs'

/**
 * The number of file descriptors this process has open, read from
 * `/proc/self/fd` (Linux), or undefined where that does not exist.
 *
 * @returns The count, or undefined off Linux.
 * @example
 * ```ts
 * const before = openFileDescriptors()
 * // ... 1,000 failing binds ...
 * expect(openFileDescriptors()).toBe(before)
 * ```
 */
export function openFileDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return undefined
  }
}
