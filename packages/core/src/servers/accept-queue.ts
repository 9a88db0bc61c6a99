/**
 * The bounded queue between a server's socket events and its iterators.
 *
 * @module
 */

import type { RequestIterator } from '../types.js'

/** A consumer waiting for the next item. */
type Waiter<T> = ((result: IteratorResult<T, undefined>) => void) & { room?: number }

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
 * Public as a building block for servers of your own and for wrappers
 * (a PROXY or TLS stage hands out requests it finished with): its
 * iterators offer the batch pulls of `RequestIterator`, so a policy starts
 * what is ready in one turn.
 *
 * @example
 * ```ts
 * const queue = new AcceptQueue<StreamRequest>(1_024)
 * netServer.on('connection', (socket) => { if (!queue.push(toRequest(socket))) socket.destroy() })
 * const server = { [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](), ... }
 * ```
 */
export class AcceptQueue<T> {
  readonly #limit: number
  readonly #items: T[] = []
  /**
   * When each item in `#items` was queued (`performance.now()`), in step
   * with it: what the server's wait watch reads. An item handed straight to
   * a waiting consumer never waited and gets none.
   */
  readonly #queuedAt: number[] = []
  readonly #waiters: Waiter<T>[] = []
  /** How many items have left the front of the queue, ever: numbers the queued items. */
  #departed = 0
  #ended = false

  /** Told when a consumer begins to wait (see the constructor). */
  readonly #onDemand: (() => void) | undefined

  /**
   * @param limit - The most items kept while nobody pulls.
   * @param onDemand - Told, synchronously, each time a consumer begins to
   *   wait because nothing is queued: a source that fetches on demand (a
   *   table of jobs claims only what consumers wait for) starts a fetch of
   *   {@link AcceptQueue.demand} items there.
   */
  constructor(limit: number, onDemand?: () => void) {
    this.#limit = limit
    this.#onDemand = onDemand
  }

  /** Consumers waiting for an item now (pulls not yet answered). */
  get consumersWaiting(): number {
    return this.#waiters.length
  }

  /**
   * How many items the waiting consumers could take now: each waiting pull
   * counts the room its consumer said it has (`takeLater`'s `room`: a
   * `pooled({ concurrency: 8 })` with nothing running says 8), a plain
   * `next()` 1. What a source that fetches on demand should fetch; items
   * beyond the first go to the pulls its consumers make as they take them.
   * Kept only by a queue given `onDemand` (without it, every pull counts 1).
   */
  get demand(): number {
    let demand = 0
    for (const waiter of this.#waiters) demand += waiter.room ?? 1
    return demand
  }

  /** The most items kept while nobody pulls. */
  get limit(): number {
    return this.#limit
  }

  /** Items waiting for a consumer. */
  get size(): number {
    return this.#items.length
  }

  /**
   * How many items have ever left the front of the queue (taken, expired or
   * ended): the queued item at `index` is the `departed + index`-th queued
   * item ever, so a watcher can keep its place across takes it does not see.
   */
  get departed(): number {
    return this.#departed
  }

  /** When the queued item at `index` (0 is the oldest) was queued, in `performance.now()` time. */
  queuedAt(index: number): number | undefined {
    return this.#queuedAt[index]
  }

  /** The queued item at `index` (0 is the oldest), left in place. */
  at(index: number): T | undefined {
    return this.#items[index]
  }

  /** Removes and returns the oldest queued item (a watcher refusing it), if any. */
  shift(): T | undefined {
    if (this.#items.length === 0) return undefined
    this.#departed++
    this.#queuedAt.shift()
    return this.#items.shift()
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
    this.#queuedAt.push(performance.now())
    return true
  }

  /** Takes the next item, waiting for one; `done` once ended and empty. */
  next(): Promise<IteratorResult<T, undefined>> {
    const item = this.shift()
    if (item !== undefined) return Promise.resolve({ done: false, value: item })
    if (this.#ended) return Promise.resolve({ done: true, value: undefined })
    return new Promise((resolve) => {
      this.#waiters.push(resolve)
      this.#onDemand?.()
    })
  }

  /**
   * Ends every iteration. Waiting consumers get `done`.
   *
   * @returns The items still queued, for the owner to dispose of.
   */
  end(): T[] {
    this.#ended = true
    for (const waiter of this.#waiters.splice(0)) waiter({ done: true, value: undefined })
    this.#departed += this.#items.length
    this.#queuedAt.length = 0
    return this.#items.splice(0)
  }

  /**
   * An iterator that takes items until the queue ends. Its `return()`
   * withdraws every pull of this iterator still waiting, so an item
   * arriving later stays queued for another consumer instead of going to
   * one that left; later pulls of this iterator get `done`.
   */
  [Symbol.asyncIterator](): RequestIterator<T> & AsyncIterator<T, undefined> {
    // The waiters of this iterator's pending pulls (usually one), so
    // return() can end them. Each removes itself when it is answered.
    const waiting: Waiter<T>[] = []
    let returned = false
    // next() without the promise (takeLater), and next() through it.
    const takeLater = (deliver: (result: IteratorResult<T, undefined>) => void, room?: number): void => {
      const item = returned ? undefined : this.shift()
      if (item !== undefined) {
        deliver({ done: false, value: item })
      } else if (this.#ended || returned) {
        deliver({ done: true, value: undefined })
      } else {
        const waiter: Waiter<T> = (result: IteratorResult<T, undefined>): void => {
          waiting.splice(waiting.indexOf(waiter), 1)
          deliver(result)
        }
        // Only a queue that fetches on demand reads it: a socket server's pulls skip the property.
        if (room !== undefined && room > 1 && this.#onDemand !== undefined) waiter.room = Math.floor(room)
        waiting.push(waiter)
        this.#waiters.push(waiter)
        this.#onDemand?.()
      }
    }
    return {
      next: () => new Promise((resolve) => takeLater(resolve)),
      takeNow: () => (returned ? undefined : this.shift()),
      takeLater,
      return: async () => {
        returned = true
        for (const waiter of [...waiting]) {
          const index = this.#waiters.indexOf(waiter)
          if (index !== -1) this.#waiters.splice(index, 1)
          waiter({ done: true, value: undefined })
        }
        return { done: true, value: undefined }
      },
    }
  }
}
