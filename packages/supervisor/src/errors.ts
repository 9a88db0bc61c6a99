/**
 * The supervisor's errors.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * A worker could not start serving: it exited first, said it failed (its
 * handler module did not load, say), or was not ready in time. At start
 * this fails the start; in a rolling restart the old workers stay.
 *
 * @example
 * ```ts
 * await Supervisor.start(options).catch((err) => { if (err instanceof WorkerNotReadyError) console.error(err.message) })
 * ```
 */
export class WorkerNotReadyError extends SocketServerError {
  /** @param reason - Why, as the worker or its exit said. */
  constructor(reason: string) {
    super(`Cannot start a worker: ${reason}`, 'SS_ERR_WORKER_NOT_READY')
  }
}

/**
 * Workers kept crashing: `crashes` within `windowMs`. The supervisor stopped
 * (and its workers) instead of restarting them for ever.
 *
 * @example
 * ```ts
 * await supervisor.done.catch((err) => { if (err instanceof CrashLoopError) process.exitCode = 1 })
 * ```
 */
export class CrashLoopError extends SocketServerError {
  /** How many crashes. */
  readonly crashes: number
  /** In how long a window. */
  readonly windowMs: number

  /**
   * @param crashes - How many.
   * @param windowMs - The window.
   * @param code - The last worker's exit code.
   * @param signal - Or the signal that ended it.
   */
  constructor(crashes: number, windowMs: number, code: number | null, signal: NodeJS.Signals | null) {
    super(
      `Cannot keep the workers running: ${crashes} crashed within ${windowMs} ms (the last with ${signal ?? `code ${code}`}); stopped instead of restarting them again`,
      'SS_ERR_CRASH_LOOP',
    )
    this.crashes = crashes
    this.windowMs = windowMs
  }
}
