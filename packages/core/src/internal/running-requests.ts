/**
 * The requests `serve()` is running, so that a forced drain can abort them
 * all.
 *
 * @module
 * @internal
 */

import { abortStateOf } from './abort-state.js'

/**
 * A set of running requests without hashing for our own: each of our
 * requests keeps its slot in an array on its abort state, and leaves by
 * swapping the last one into its place. (A `Set` of request objects cost a
 * hash per new object and a table update per request: in profiles of small
 * datagram exchanges, the most expensive line of `serve()`.) Requests of
 * other libraries go into a `Set`.
 */
export class RunningRequests<R extends object> {
  readonly #ours: R[] = []
  readonly #others = new Set<R>()

  add(request: R): void {
    const state = abortStateOf(request)
    if (state === undefined) {
      this.#others.add(request)
      return
    }
    if (state.runningSlot !== -1) return
    state.runningSlot = this.#ours.length
    this.#ours.push(request)
  }

  delete(request: R): void {
    const state = abortStateOf(request)
    if (state === undefined) {
      this.#others.delete(request)
      return
    }
    const slot = state.runningSlot
    if (slot === -1) return
    state.runningSlot = -1
    const last = this.#ours.pop() as R
    if (last === request) return
    this.#ours[slot] = last
    const lastState = abortStateOf(last)
    if (lastState !== undefined) lastState.runningSlot = slot
  }

  /** How many requests run. */
  get size(): number {
    return this.#ours.length + this.#others.size
  }

  /** A snapshot: callers may end requests while they go through it. */
  snapshot(): R[] {
    return [...this.#ours, ...this.#others]
  }
}
