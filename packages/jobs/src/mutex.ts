/**
 * One-at-a-time access to a connection.
 *
 * @module
 */

/** Runs functions one at a time, in call order; a failure does not stop the next. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()

  /** Runs `fn` once every function given before it has settled; resolves or rejects as it does. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(fn)
    this.#tail = result.catch(() => {})
    return result
  }
}
