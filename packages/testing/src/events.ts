/**
 * Waiting on events and conditions with a deadline, never a sleep.
 *
 * @module
 */

import type { EventEmitter } from 'node:events'
import { once } from 'node:events'

/** The deadline used when a test gives none. */
export const DEFAULT_DEADLINE_MS = 10_000

/**
 * Waits for one `event` from `emitter`, or fails after `timeoutMs`.
 *
 * @param emitter - Any event emitter (a socket, a child process).
 * @param event - The event name.
 * @param timeoutMs - The deadline. Default {@link DEFAULT_DEADLINE_MS}.
 * @returns The event's arguments.
 * @throws The deadline's `TimeoutError`, or the emitter's `error`.
 * @example
 * ```ts
 * await nextEvent(child, 'exit', 5_000)
 * ```
 */
export function nextEvent(emitter: EventEmitter, event: string, timeoutMs = DEFAULT_DEADLINE_MS): Promise<unknown[]> {
  return once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) })
}

/**
 * Polls `condition` every millisecond until it
 * returns true, or fails after `timeoutMs`.
 *
 * @param condition - Checked until it returns true.
 * @param timeoutMs - The deadline. Default {@link DEFAULT_DEADLINE_MS}.
 * @param what - Named in the error when the deadline passes.
 * @throws Error naming `what` when the deadline passes.
 * @example
 * ```ts
 * await until(() => server.pendingConnections === 2, 5_000, 'two pending connections')
 * ```
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = DEFAULT_DEADLINE_MS,
  what = 'the condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const failure = (): Error => new Error(`Cannot wait for ${what}: still false after ${timeoutMs} ms`)
  while (!(await withinDeadline(condition(), deadline, failure))) {
    if (Date.now() > deadline) throw failure()
    // A short timer rather than setImmediate, so waiting on the kernel does not spin a core.
    await new Promise<void>((resolve) => setTimeout(resolve, 1))
  }
}

/** A condition's answer, or the deadline's failure if an async condition is still thinking then. */
function withinDeadline(answer: boolean | Promise<boolean>, deadline: number, failure: () => Error): boolean | Promise<boolean> {
  if (typeof answer === 'boolean') return answer
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(failure()), Math.max(0, deadline - Date.now()))
  })
  return Promise.race([answer, late]).finally(() => clearTimeout(timer))
}
