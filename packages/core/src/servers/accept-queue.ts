/**
 * A bounded bridge from push-style socket events to pull-style async
 * iteration.
 *
 * Items pushed while a consumer waits go straight to it; otherwise they wait
 * in a queue of at most `limit` items. `push()` returns false when the queue
 * is full, and the caller decides what overflow means (the stream servers
 * refuse the connection and report it). `end()` finishes every iteration
 * with `done` and hands back what was still queued, so nothing is lost
 * without the owner knowing.
 *
 * @internal
 */
export class AcceptQueue<T> {
  readonly #limit: number
  readonly #items: T[] = []
  readonly #waiters: Array<(result: IteratorResult<T, undefined>) => void> = []
  #ended = false

  /** @param limit - The most items kept while nobody pulls. */
  constructor(limit: number) {
    this.#limit = limit
  }

  /** The most items kept while nobody pulls. */
  get limit(): number {
    return this.#limit
  }

  /** Items waiting for a consumer. */
  get size(): number {
    return this.#items.length
  }

  /** Whether {@link AcceptQueue.end} was called. */
  get ended(): boolean {
    return this.#ended
  }

  /**
   * Offers an item to a waiting consumer, or queues it.
   *
   * @returns false when the queue is full or ended; the item was not taken.
   */
  push(item: T): boolean {
    if (this.#ended) return false
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) {
      waiter({ done: false, value: item })
      return true
    }
    if (this.#items.length >= this.#limit) return false
    this.#items.push(item)
    return true
  }

  /** Takes the next item, waiting for one; `done` once ended and empty. */
  next(): Promise<IteratorResult<T, undefined>> {
    const item = this.#items.shift()
    if (item !== undefined) return Promise.resolve({ done: false, value: item })
    if (this.#ended) return Promise.resolve({ done: true, value: undefined })
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /**
   * Ends every iteration. Waiting consumers get `done`.
   *
   * @returns The items still queued, for the owner to dispose of.
   */
  end(): T[] {
    this.#ended = true
    for (const waiter of this.#waiters.splice(0)) waiter({ done: true, value: undefined })
    return this.#items.splice(0)
  }

  /**
   * An iterator that takes items until the queue ends. Its `return()`
   * withdraws a pull still waiting, so an item arriving later stays queued
   * for another consumer instead of going to one that left.
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    let waiting: ((result: IteratorResult<T, undefined>) => void) | undefined
    return {
      next: () => {
        const before = this.#waiters.length
        const result = this.next()
        // next() queued a waiter only when it had to wait: then it is the last one.
        if (this.#waiters.length > before) waiting = this.#waiters.at(-1)
        return result.finally(() => {
          waiting = undefined
        })
      },
      return: async () => {
        const index = waiting === undefined ? -1 : this.#waiters.indexOf(waiting)
        if (index !== -1) this.#waiters.splice(index, 1)
        waiting?.({ done: true, value: undefined })
        return { done: true, value: undefined }
      },
    }
  }
}
