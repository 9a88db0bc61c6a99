/**
 * `serviceActions`: Python's `service_actions()`, called by `serve()`.
 *
 * @module
 * @internal
 */

import { delay, isAbortError } from 'abort-controller-x'
import { HookError } from '../errors.js'

/**
 * The user's `serviceActions`, run every `pollIntervalMs` and after each
 * request, one run at a time, as Python's loop calls `service_actions()`:
 * the poll and the call after a request share a run that is still going.
 * A run that throws is reported (as `HookError`) and the loop goes on.
 */
export class ServiceActions {
  readonly #action: () => unknown
  readonly #intervalMs: number
  readonly #report: (error: HookError) => void
  readonly #loop = new AbortController()
  #current: Promise<void> | undefined
  #polling: Promise<void> | undefined

  /**
   * @param action - The user's hook.
   * @param intervalMs - The poll interval (`pollIntervalMs`).
   * @param report - Where a failed run goes (`handleError`).
   */
  constructor(action: () => unknown, intervalMs: number, report: (error: HookError) => void) {
    this.#action = action
    this.#intervalMs = intervalMs
    this.#report = report
  }

  /** Runs the action, or returns the run still going. Never rejects. */
  run(): Promise<void> {
    this.#current ??= this.#runOnce()
    return this.#current
  }

  /** Starts the poll. */
  start(): void {
    this.#polling ??= this.#poll()
  }

  /** Ends the poll; resolves once the last run has settled. */
  stop(): Promise<void> {
    this.#loop.abort()
    return this.#polling ?? this.#current ?? Promise.resolve()
  }

  async #runOnce(): Promise<void> {
    try {
      await this.#action()
    } catch (error) {
      this.#report(new HookError('serviceActions', error))
    } finally {
      this.#current = undefined
    }
  }

  async #poll(): Promise<void> {
    const signal = this.#loop.signal
    try {
      for (;;) {
        await delay(signal, this.#intervalMs)
        await this.run()
      }
    } catch (error) {
      if (!isAbortError(error) && !signal.aborted) throw error
    }
  }
}
