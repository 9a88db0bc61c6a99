/**
 * Watching requests that wait in a server's queue for a consumer (a free
 * policy slot): one timer per server, on the oldest item, never one per
 * request (#16).
 *
 * @module
 * @internal
 */

import type { AcceptQueue } from './accept-queue.js'

/**
 * The line a server prints on stderr at its first slow wait (unless
 * `socketserver:server:wait` has a subscriber): what waits, for how long,
 * and what to do about it.
 *
 * @internal
 */
export function printSlowWait(noun: string, from: string, waitedMs: number, waiting: number): void {
  const are = waiting === 1 ? 'is' : 'are'
  try {
    process.stderr.write(
      `socketserver: a ${noun} from ${from} has waited ${Math.round(waitedMs)} ms for a free slot; ${waiting} ${are} waiting (every slot of the policy busy, or a slow verifyRequest: raise pooled({ concurrency }) or maxChildren, or set maxWaitMs; printed once per server, see slowWaitMs)\n`,
    )
  } catch {
    // stderr closed: the channel and the stats still tell.
  }
}

/**
 * Watches the items of an {@link AcceptQueue} while they wait: calls
 * `onSlow` once for each item that has waited `slowWaitMs` (while it still
 * waits), and removes and hands to `onExpired` each item that has waited
 * `maxWaitMs`.
 *
 * The queue is FIFO, so the oldest item is always the next to cross either
 * line: one timer, set for the nearer of the two deadlines of the oldest
 * items concerned, is enough. It is armed when an item is queued and no
 * timer is pending, and is not cleared when the queue empties: it fires
 * once more, finds nothing (or a younger item, and sets itself for that
 * one), and stops. So a request costs no timer of its own: a queue that
 * fills and drains quickly sets about one timer per `slowWaitMs`, whatever
 * the request rate, and a request handed straight to a waiting consumer
 * costs nothing here at all. Timers are unref'd: a watch never keeps the process alive.
 *
 * @internal
 */
export class WaitWatch<T> {
  readonly #queue: AcceptQueue<T>
  readonly #slowWaitMs: number
  readonly #maxWaitMs: number
  readonly #onSlow: (item: T, waitedMs: number) => void
  readonly #onExpired: (item: T, waitedMs: number) => void
  #timer: NodeJS.Timeout | undefined
  /** The queue number (see {@link AcceptQueue.departed}) of the first item not yet reported slow. */
  #nextSlow = 0
  #stopped = false

  readonly #fire = (): void => {
    this.#timer = undefined
    if (this.#stopped) return
    const queue = this.#queue
    const now = performance.now()
    // Each callback may take from the queue (a subscriber, a handleError):
    // places are worked out again after every call.
    if (this.#slowWaitMs !== Number.POSITIVE_INFINITY) {
      for (;;) {
        const index = Math.max(0, this.#nextSlow - queue.departed)
        const since = queue.queuedAt(index)
        if (since === undefined || now - since < this.#slowWaitMs) break
        this.#nextSlow = queue.departed + index + 1
        this.#onSlow(queue.at(index) as T, now - since)
        if (this.#stopped) return
      }
    }
    if (this.#maxWaitMs !== Number.POSITIVE_INFINITY) {
      for (;;) {
        const since = queue.queuedAt(0)
        if (since === undefined || now - since < this.#maxWaitMs) break
        this.#onExpired(queue.shift() as T, now - since)
        if (this.#stopped) return
      }
    }
    this.#arm(now)
  }

  /**
   * @param queue - The queue whose items are watched.
   * @param slowWaitMs - When to call `onSlow`; `Infinity` for never.
   * @param maxWaitMs - When to take an item out for `onExpired`; `Infinity` for never.
   * @param onSlow - Called once per item that waited `slowWaitMs`, with how long it has.
   * @param onExpired - Called with each item removed for having waited `maxWaitMs`.
   */
  constructor(
    queue: AcceptQueue<T>,
    slowWaitMs: number,
    maxWaitMs: number,
    onSlow: (item: T, waitedMs: number) => void,
    onExpired: (item: T, waitedMs: number) => void,
  ) {
    this.#queue = queue
    this.#slowWaitMs = slowWaitMs
    this.#maxWaitMs = maxWaitMs
    this.#onSlow = onSlow
    this.#onExpired = onExpired
  }

  /** Call after an item was queued: starts watching unless a timer is pending. */
  queued(): void {
    if (this.#timer === undefined && !this.#stopped) this.#arm(performance.now())
  }

  /** Stops watching for good (the queue ended). */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Sets the timer for the nearest deadline of a queued item, if there is one. */
  #arm(now: number): void {
    const queue = this.#queue
    let due = Number.POSITIVE_INFINITY
    const slowSince = queue.queuedAt(Math.max(0, this.#nextSlow - queue.departed))
    if (slowSince !== undefined) due = slowSince + this.#slowWaitMs
    const oldest = queue.queuedAt(0)
    if (oldest !== undefined) due = Math.min(due, oldest + this.#maxWaitMs)
    if (due === Number.POSITIVE_INFINITY) return
    // Rounded up, and at least 1 ms: a timer may fire a fraction early by
    // this clock, and #fire() then simply sets the rest.
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(due - now)))
    this.#timer.unref()
  }
}
