/**
 * Counting what a process holds open, to prove nothing leaks.
 *
 * @module
 */

import { readdirSync, readFileSync } from 'node:fs'

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

/**
 * Whether the process `pid` is still running, asked of the OS: a zombie (it
 * exited, its parent has not reaped it yet) counts as gone.
 *
 * @param pid - The process id.
 * @returns true while it runs.
 * @example
 * ```ts
 * await until(() => workers.every((pid) => !processAlive(pid)), 10_000, 'the workers to exit')
 * ```
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    // No /proc (not Linux): kill(pid, 0) said it exists.
    return true
  }
}
