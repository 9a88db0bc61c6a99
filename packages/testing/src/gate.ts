/**
 * Gates and probes: let a test decide when a handler may go on, and count
 * how many run at once, instead of guessing with timers.
 *
 * @module
 */

/**
 * A one-shot gate: `wait()` resolves once `open()` was called (trio's
 * `Event`). Handlers wait on gates the test opens, so ordering is proven by
 * construction, not by timing.
 *
 * @example
 * ```ts
 * const gate = new Gate()
 * const handler = async () => { await gate.wait() }
 * // ... later, in the test:
 * gate.open()
 * ```
 */
export class Gate {
  #open = false
  readonly #promise: Promise<void>
  #resolve!: () => void

  constructor() {
    this.#promise = new Promise<void>((resolve) => {
      this.#resolve = resolve
    })
  }

  /** Whether {@link Gate.open} was called. */
  get isOpen(): boolean {
    return this.#open
  }

  /** Opens the gate: every waiter, present and future, goes on. */
  open(): void {
    this.#open = true
    this.#resolve()
  }

  /**
   * Waits until the gate opens.
   *
   * Abort behaviour: rejects with `signal.reason` when `signal` aborts first.
   *
   * @param signal - Optional deadline, e.g. `AbortSignal.timeout(5_000)`.
   */
  wait(signal?: AbortSignal): Promise<void> {
    if (signal === undefined || this.#open) return this.#promise
    if (signal.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      void this.#promise.then(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }
}

/**
 * Counts how many callers are inside a section at once and the peak, and
 * lets a test wait until a number are inside.
 *
 * @example
 * ```ts
 * const probe = new ConcurrencyProbe()
 * const handler = async () => { probe.enter(); try { await gate.wait() } finally { probe.exit() } }
 * await probe.waitUntil((n) => n === 4)
 * expect(probe.peak).toBe(4)
 * ```
 */
export class ConcurrencyProbe {
  #current = 0
  #peak = 0
  #entered = 0
  readonly #watchers = new Set<() => void>()

  /** How many are inside now. */
  get current(): number {
    return this.#current
  }

  /** The most that were ever inside at once. */
  get peak(): number {
    return this.#peak
  }

  /** How many entered in all. */
  get entered(): number {
    return this.#entered
  }

  /** Marks one caller inside. */
  enter(): void {
    this.#current++
    this.#entered++
    this.#peak = Math.max(this.#peak, this.#current)
    this.#notify()
  }

  /** Marks one caller gone. */
  exit(): void {
    this.#current--
    this.#notify()
  }

  /**
   * Resolves once `condition(current, entered)` holds.
   *
   * Abort behaviour: rejects with the signal's reason when `signal` (default
   * a 10 s deadline) aborts first.
   */
  waitUntil(condition: (current: number, entered: number) => boolean, signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<void> {
    if (condition(this.#current, this.#entered)) return Promise.resolve()
    // An 'abort' listener would never hear a signal that has already fired.
    if (signal.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!condition(this.#current, this.#entered)) return
        cleanup()
        resolve()
      }
      const onAbort = (): void => {
        cleanup()
        reject(signal.reason)
      }
      const cleanup = (): void => {
        this.#watchers.delete(check)
        signal.removeEventListener('abort', onAbort)
      }
      this.#watchers.add(check)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  #notify(): void {
    for (const watcher of [...this.#watchers]) watcher()
  }
}
