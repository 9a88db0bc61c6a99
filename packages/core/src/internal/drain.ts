/**
 * How `serve()` ends: what runs, the stop notice, one deadline.
 *
 * @module
 * @internal
 */

import { DrainTimeoutError, ServerStoppingError } from '../errors.js'
import type { RunTracking } from '../request-runner.js'
import type { Request } from '../types.js'

/**
 * The drain of one `serve()` call, as Go's `Shutdown` has it: the requests
 * running (being verified or served), the stop that tells each of them, one
 * deadline after which every one still running is aborted (or `force()`,
 * sooner), and a wait for the moment nothing runs. The request runner
 * reports each request's start and end here.
 *
 * States, in order, each entered once: serving → stopping (the stop
 * notice went out, the deadline is armed) → forced (every running request
 * was aborted with `DrainTimeoutError`; one that starts later is aborted at
 * its start). Force may also come first (`forceSignal` aborted early).
 */
export class Drain<R extends Request> implements RunTracking<R> {
  /** What runs: a `Set` (a slot kept on each request instead measured no faster: see `fast-paths.ts`). */
  readonly #running = new Set<R>()
  readonly #timeoutMs: number
  #stopping: ServerStoppingError | undefined
  #forced: DrainTimeoutError | undefined
  #deadline: NodeJS.Timeout | undefined
  /** Told when the last running request ends, if someone waits for that. */
  #onIdle: (() => void) | undefined
  /** Told when force comes, if someone waits for that. */
  #onForced: (() => void) | undefined

  /** @param timeoutMs - How long the stop waits for running requests (`drainTimeoutMs`). */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** How many requests run now. */
  get size(): number {
    return this.#running.size
  }

  /** What aborted the running requests, once the deadline passed or force came. */
  get forced(): DrainTimeoutError | undefined {
    return this.#forced
  }

  /** A request is being verified: counted as running, so force aborts a check that never settles. */
  add(request: R): void {
    this.#running.add(request)
  }

  /** The request left without running (verified, or refused). */
  delete(request: R): void {
    this.#running.delete(request)
    if (this.#running.size === 0) this.#onIdle?.()
  }

  /** A request started running: one that starts during the stop is told at once, during force aborted at once. */
  started(request: R): void {
    this.#running.add(request)
    if (this.#stopping !== undefined) tellStopping(request, this.#stopping)
    if (this.#forced !== undefined) request.abort(this.#forced)
  }

  /** A request ended (after its close). */
  ended(request: R): void {
    this.delete(request)
  }

  /**
   * The stop begins: the deadline is armed, then every running request is
   * told (`request.stop()`). Once; later calls return false.
   *
   * @returns Whether this call began it.
   */
  beginStop(): boolean {
    if (this.#stopping !== undefined) return false
    const stopping = new ServerStoppingError()
    this.#stopping = stopping
    this.armDeadline()
    // A snapshot: a request may end while it is told.
    for (const request of [...this.#running]) tellStopping(request, stopping)
    return true
  }

  /** Arms the deadline, unless it is armed already. */
  armDeadline(): void {
    this.#deadline ??= setTimeout(this.force, this.#timeoutMs)
  }

  /** The deadline passed (or `forceSignal` aborted): every running request is aborted with `DrainTimeoutError`. */
  readonly force = (): void => {
    this.#forced ??= new DrainTimeoutError(this.#timeoutMs)
    for (const request of [...this.#running]) request.abort(this.#forced)
    this.#onForced?.()
  }

  /** Resolves once nothing runs. */
  untilIdle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.#onIdle = resolve
    })
  }

  /**
   * Waits for `work`, but no longer than the deadline (armed now if it was
   * not): what `serve()` gives a service action still running at the end.
   *
   * @returns false when force came first (or had come already).
   */
  async within(work: Promise<void>): Promise<boolean> {
    if (this.#forced !== undefined) return false
    const gaveUp = new Promise<void>((resolve) => {
      this.#onForced = resolve
    })
    this.armDeadline()
    await Promise.race([work, gaveUp])
    return this.#forced === undefined
  }

  /** Disarms the deadline: the drain is over. */
  dispose(): void {
    clearTimeout(this.#deadline)
  }
}

/** Gives a request the stop notice; a request of another library may not take it. */
function tellStopping(request: Request, reason: ServerStoppingError): void {
  ;(request as Partial<Request>).stop?.(reason)
}
